import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Oracle suites spawn host processes (objdump, the i386 harness, QEMU); two workers match the 2-core machines.
    maxWorkers: 2,
  },
});
