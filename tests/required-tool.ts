// Oracles and tools from outside the repository (gdb, QEMU, Chromium): a test suite without one skips what
// needs it — except under .ci/run, which exports X86JIT_CI=1 after installing them: there a missing tool is
// an error, so that a CI run that silently tested less cannot pass.

/** Is the tool there (`present`)? Throws under X86JIT_CI=1 when it is not. */
export function requireTool(name: string, present: boolean): boolean {
  if (!present && process.env.X86JIT_CI === '1') throw new Error(`${name} is missing, and X86JIT_CI=1 (.ci/run) requires it`);
  return present;
}
