// Process exit statuses of `x86jit run` (documented in README). A guest that ends through QEMU's
// isa-debug-exit exits with (value << 1) | 1 — always odd — so every other way a run can end has an even
// status of its own.
import type { ExitReason } from '../machine/vm.ts';

export const EXIT_USAGE = 2;          // bad arguments, unreadable or invalid image
export const EXIT_OUTPUT_CLOSED = 16; // stdout or stderr was closed (EPIPE) before the guest exited: the run stopped there
export const EXIT_INTERNAL = 70;      // a bug in x86jit (EX_SOFTWARE)
export const EXIT_IO = 74;            // writing stdout or stderr failed (EX_IOERR): a full disk, an I/O error

export const EXIT_STATUS: Record<Exclude<ExitReason, 'debug-exit'>, number> = {
  'halt': 4,              // HLT with nothing that can wake the CPU
  'max-instructions': 6,  // --max-instructions reached
  'timeout': 8,           // --timeout reached
  'triple-fault': 10,     // shutdown: an exception could not be delivered
  'unsupported': 12,      // the guest used a feature x86jit does not model (task switch, paging, ...)
  'until': 14,            // stopped at a requested address (API only)
  'breakpoint': 18,       // stopped at a breakpoint (API and the gdb stub only)
  'idle': 20,             // halted until a timer event, with RunOptions.returnWhenIdle (API only)
  'stopped': EXIT_OUTPUT_CLOSED, // the CLI stopped the run: its stdout or stderr was closed
  'reset': 0,             // the guest reset the machine: the run ends as QEMU's -no-reboot ends it, status 0
  'poweroff': 0,          // the guest powered off (ACPI S5): a clean end, as QEMU exits 0
};
