#!/usr/bin/env node
// x86jit command line: `x86jit run ROM ...` and `x86jit disasm FILE ...`. Uses only the public API
// (src/index.ts). Every failure is one line on stderr and a documented exit status; never a stack trace.
import { runCommand, RUN_HELP } from './run.ts';
import { disasmCommand, DISASM_HELP } from './disasm.ts';
import { profileCommand, PROFILE_HELP } from './profile.ts';
import { lockstepCommand, LOCKSTEP_HELP } from './lockstep.ts';
import { EXIT_INTERNAL, EXIT_USAGE } from './exit-status.ts';
import { UsageError } from './parse.ts';
import { LoadError } from '../index.ts';

const HELP = `usage: x86jit <command> [options]

commands:
  run ROM       run a Multiboot kernel, raw binary or BIOS image (x86jit run --help)
  disasm FILE   disassemble a flat binary in Intel syntax (x86jit disasm --help)
  profile ROM   run ROM under the JIT and report its hottest regions and totals (x86jit profile --help)
  lockstep ROM  run ROM under the JIT and the interpreter side by side, report the first divergence

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
    case undefined: case '-h': case '--help': case 'help':
      if (command === 'help' && rest[0] === 'run') { process.stdout.write(RUN_HELP); return 0; }
      if (command === 'help' && rest[0] === 'disasm') { process.stdout.write(DISASM_HELP); return 0; }
      if (command === 'help' && rest[0] === 'profile') { process.stdout.write(PROFILE_HELP); return 0; }
      if (command === 'help' && rest[0] === 'lockstep') { process.stdout.write(LOCKSTEP_HELP); return 0; }
      process.stdout.write(HELP);
      return command === undefined ? EXIT_USAGE : 0;
    case '--version': process.stdout.write('x86jit 0.1.0\n'); return 0;
    default: throw new UsageError(`unknown command '${command}' (try: x86jit --help)`);
  }
}

main(process.argv.slice(2)).then(
  // Exit explicitly once stdout and stderr have drained: a natural exit would wait for the JIT's
  // translation worker, which cannot stop in the middle of loading binaryen (~0.4 s for a short run).
  (status) => { process.exitCode = status; process.stdout.write('', () => process.stderr.write('', () => process.exit(status))); },
  (e: unknown) => {
    const err = e as { code?: string; message?: string };
    if (e instanceof UsageError || e instanceof LoadError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`x86jit: ${err.message}\n`);
      process.exitCode = EXIT_USAGE;
    } else {
      process.stderr.write(`x86jit: internal error: ${err.message ?? String(e)}\n`);
      if (process.env.X86JIT_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
      process.exitCode = EXIT_INTERNAL;
    }
  },
);
