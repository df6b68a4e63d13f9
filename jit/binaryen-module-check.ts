// binaryen's validator as a module check (module-check.ts), exported by x86jit/node: the core entry does not
// load binaryen (jit-host.ts says why).
import type binaryenT from 'binaryen';

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
