import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Oracle suites spawn host processes (objdump, the host-CPU harness, QEMU); two workers match the 2-core machines.
    maxWorkers: 2,
    // No translation cache in the CLI processes tests start (each run translates afresh and nothing lands
    // in the user's cache; in-process VMs say cacheDir: null); the test of the cache gives its processes a
    // directory of its own.
    env: { X86JIT_JIT_CACHE: 'off' },
    // binaryen validates every region module, made here or in the CLI processes the tests start (tests/setup-module-check.ts).
    setupFiles: ['tests/setup-module-check.ts'],
  },
});
