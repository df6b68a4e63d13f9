#!/usr/bin/env node
// x86jit command line: `x86jit run ROM ...`, `disasm FILE`, `profile ROM`, `lockstep ROM`, `host`, `vm
// COMMAND`. Uses the public API (src/node.ts) and the loaders' size limits. Every failure is one line on
// stderr and a documented exit status; never a stack trace.
import { runCommand, RUN_HELP } from './run.ts';
import { disasmCommand, DISASM_HELP } from './disasm.ts';
import { profileCommand, PROFILE_HELP } from './profile.ts';
import { lockstepCommand, LOCKSTEP_HELP } from './lockstep.ts';
import { snapshotCommand, SNAPSHOT_HELP } from './snapshot.ts';
import { execCommand, EXEC_HELP } from './exec.ts';
import { hostCommand, HOST_HELP } from './host.ts';
import { vmCommand, VM_HELP } from './vm.ts';
import { EXIT_INTERNAL, EXIT_IO, EXIT_USAGE } from './exit-status.ts';
import { emit, outputError } from './output.ts';
import { UsageError } from './parse.ts';
import { LoadError, SnapshotError } from '../node.ts';

const HELP = `usage: x86jit <command> [options]

commands:
  run ROM       run a Multiboot kernel, raw binary or BIOS image (x86jit run --help)
  disasm FILE   disassemble a flat binary in Intel syntax (x86jit disasm --help)
  profile ROM   run ROM under the JIT and report its hottest regions and totals (x86jit profile --help)
  lockstep ROM  run ROM under the JIT and the interpreter side by side, report the first divergence
  snapshot ROM  run ROM to an instruction count and save the whole VM to a file (x86jit snapshot --help)
  exec PROGRAM  run a static Linux i386 executable as a process, like qemu-i386 (x86jit exec --help)
  host          run many VMs and serve the management API on a Unix socket (x86jit host --help)
  vm COMMAND    manage a host's VMs: create, ls, show, start, stop, console, top, ... (x86jit vm --help)

options:
  -h, --help    show this help
  --version     print the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': return runCommand(rest);
    case 'disasm': return disasmCommand(rest);
    case 'profile': return profileCommand(rest);
    case 'lockstep': return lockstepCommand(rest);
    case 'snapshot': return snapshotCommand(rest);
    case 'exec': return execCommand(rest);
    case 'host': return hostCommand(rest);
    case 'vm': return vmCommand(rest);
    case undefined: case '-h': case '--help': case 'help':
      if (command === 'help' && rest[0] === 'run') { emit(1, RUN_HELP); return 0; }
      if (command === 'help' && rest[0] === 'disasm') { emit(1, DISASM_HELP); return 0; }
      if (command === 'help' && rest[0] === 'profile') { emit(1, PROFILE_HELP); return 0; }
      if (command === 'help' && rest[0] === 'lockstep') { emit(1, LOCKSTEP_HELP); return 0; }
      if (command === 'help' && rest[0] === 'snapshot') { emit(1, SNAPSHOT_HELP); return 0; }
      if (command === 'help' && rest[0] === 'exec') { emit(1, EXEC_HELP); return 0; }
      if (command === 'help' && rest[0] === 'host') { emit(1, HOST_HELP); return 0; }
      if (command === 'help' && rest[0] === 'vm') { emit(1, VM_HELP); return 0; }
      emit(1, HELP);
      return command === undefined ? EXIT_USAGE : 0;
    case '--version': emit(1, 'x86jit 0.1.0\n'); return 0;
    default: throw new UsageError(`unknown command '${command}' (try: x86jit --help)`);
  }
}

// Every write goes through output.ts (synchronous); these only keep a stray asynchronous write to a
// closed pipe from becoming an uncaught 'error' event.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

/** The status, unless writing stdout or stderr failed (other than a reader that went away): then one line and 74. */
function finalStatus(status: number): number {
  const failure = outputError();
  if (failure === undefined) return status;
  emit(2, `x86jit: ${failure}\n`);
  return EXIT_IO;
}

main(process.argv.slice(2)).then(
  // Exit explicitly: a natural exit would wait for the JIT's translation worker, which cannot stop in
  // the middle of loading binaryen (~0.4 s for a short run). All output is written already.
  (status) => process.exit(finalStatus(status)),
  (e: unknown) => {
    const err = e as { code?: string; message?: string };
    if (e instanceof UsageError || e instanceof LoadError || e instanceof SnapshotError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      emit(2, `x86jit: ${err.message}\n`);
      process.exitCode = finalStatus(EXIT_USAGE);
    } else {
      emit(2, `x86jit: internal error: ${err.message ?? String(e)}\n`);
      if (process.env.X86JIT_DEBUG) emit(2, `${(e as Error).stack}\n`);
      process.exitCode = finalStatus(EXIT_INTERNAL);
    }
  },
);
