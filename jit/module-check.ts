// Checking every region module as it is made: a process-wide hook compileRegion (compile.ts) calls with each
// module's bytes. The test suites install binaryen's validator (tests/setup-module-check.ts; the CLI with
// X86JIT_JIT_VALIDATE=1), so every module tier 1 and tier 2 emit while the tests run is validated twice:
// by binaryen here and by V8 when it is compiled.
import type binaryenT from 'binaryen';

let check: ((binary: Uint8Array) => void) | null = null;

/** Call `f` with every region module's bytes from now on (null: stop). `f` throws to reject a module. */
export function setModuleCheck(f: ((binary: Uint8Array) => void) | null): void { check = f; }

export function checkModule(binary: Uint8Array): void { check?.(binary); }

/** binaryen's validator as a check (loads binaryen: ~1 s on a slow machine). */
export async function binaryenModuleCheck(): Promise<(binary: Uint8Array) => void> {
  const bn: typeof binaryenT = (await import('binaryen')).default;
  return (binary) => {
    const m = bn.readBinary(binary);
    try {
      // (binaryen 132 aborts validating memory.copy/fill with BulkMemory on but not BulkMemoryOpt.)
      m.setFeatures(bn.Features.MVP | bn.Features.BulkMemory | bn.Features.BulkMemoryOpt | bn.Features.SignExt | bn.Features.TailCall);
      if (!m.validate()) throw new Error(`jit: binaryen rejects a region module (${binary.length} bytes)`);
    } finally {
      m.dispose();
    }
  };
}
