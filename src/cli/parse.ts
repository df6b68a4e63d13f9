// Parsing of the command line: the options of a command (node:util parseArgs, with one-line errors) and
// numeric values: sizes (128M, 1G, 65536), addresses (0x100000) and counts (1e9).
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

/**
 * parseArgs (strict, positionals allowed) for `x86jit COMMAND`, whose errors are one line each. A value
 * that starts with '-' is taken as the value of the string option before it (`--mem -1` as `--mem=-1`,
 * so that the value's own check names the problem) instead of parseArgs' three-line "ambiguous" text.
 */
export function parseCommand<T extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: T) {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') { args.push(...argv.slice(i)); break; }
    const opt = argv[i].startsWith('--') ? options[argv[i].slice(2)] : undefined;
    if (opt?.type === 'string' && argv[i + 1]?.startsWith('-')) args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const { code, message } = e as { code?: string; message: string };
    if (!code?.startsWith('ERR_PARSE_ARGS')) throw e;
    const name = /'(-[^' ]*)/.exec(message)?.[1] ?? '';
    const help = `(try: x86jit ${command} --help)`;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option '${name}' ${help}`);
    if (/argument missing/.test(message)) throw new UsageError(`${name}: missing value ${help}`);
    if (/does not take an argument/.test(message)) throw new UsageError(`${name}: takes no value ${help}`);
    throw new UsageError(`${message.split('\n')[0]} ${help}`);
  }
}

/** A byte size: plain bytes or a K/M/G suffix (powers of 1024), as QEMU's -m accepts. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${what}: '${text}' is not a size (examples: 64M, 1G, 1048576)`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

/** An address or count in decimal or 0x-hex. */
export function parseNumber(text: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const t = text.trim();
  const v = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^\d+(\.\d+)?(e\d+)?$/i.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(v) || v < 0 || v > max || !Number.isInteger(v)) throw new UsageError(`${what}: '${text}' is not a valid number`);
  return v;
}

/** A positive duration in seconds (fractions allowed). */
export function parseSeconds(text: string, what: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${what}: '${text}' is not a positive number of seconds`);
  return v;
}
