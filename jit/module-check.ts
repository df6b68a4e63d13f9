// Checking every region module as it is made: a process-wide hook compileRegion (compile.ts) calls with each
// module's bytes. The test suites install binaryen's validator (binaryen-module-check.ts; tests/setup-module-check.ts,
// the CLI with X86JIT_JIT_VALIDATE=1), so every module tier 1 and tier 2 emit while the tests run is validated twice:
// by binaryen here and by V8 when it is compiled.
let check: ((binary: Uint8Array) => void) | null = null;

/** Call `f` with every region module's bytes from now on (null: stop). `f` throws to reject a module. */
export function setModuleCheck(f: ((binary: Uint8Array) => void) | null): void { check = f; }

export function checkModule(binary: Uint8Array): void { check?.(binary); }
