// `x86jit vm COMMAND`: manage the VMs of a running `x86jit host` through its API (src/host/api.ts), as
// `virsh` does libvirtd's. Each command is one or a few requests; the host's answer is printed as text
// (or, with --json, as it came). The host checks every request: a refusal is its one line and status 1;
// only the command line's own syntax is checked here (status 2). No host at all is status 69.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { inspectSnapshot } from '../machine/snapshot.ts';
import { type ApiTarget, apiRequest, apiStream, describeTarget, errorLine, HostUnreachable } from '../host/api-client.ts';
import { EXIT_USAGE } from './exit-status.ts';
import { parseTcpAddress } from './migrate.ts';
import { emit } from './output.ts';
import { parseCommand, parseNumber, parseSeconds, parseSize, UsageError } from './parse.ts';

/** The host could not be reached (EX_UNAVAILABLE). */
export const EXIT_UNAVAILABLE = 69;
/** The host answered with an error. */
const EXIT_REFUSED = 1;
/** Ctrl-]: detach from the console, as `virsh console` and telnet. */
const DETACH = 0x1d;

export const VM_HELP = `usage: x86jit vm [--socket PATH] COMMAND [ARGS] [options]

Manage the VMs of a running \`x86jit host\` through its management API.

commands:
  create ID (--rom FILE | --snapshot FILE...) [options]   define a VM and create its guest
  ls [--json]                  the VMs as a table: ID STATE CPU% WEIGHT MIPS INSTRUCTIONS CPU-SECONDS MEMORY
                               (CPU% as ps has it: CPU time over the VM's age; \`top\` shows the current rate;
                               STATE waiting: running, halted until console input)
  show ID [--json]             everything the host knows of one VM
  start ID...                  start a created VM, or a stopped one afresh (it boots again)
  pause ID...                  pause a running VM
  resume ID...                 resume a paused VM
  stop ID...                   stop a VM: its guest and RAM go; the definition and the console log stay
  reset ID...                  a hard reset: a new guest from the definition (a running VM runs on)
  rm ID...                     remove VMs (a running one is stopped first)
                               (several IDs: each in turn; one refused does not stop the others: status 1)
  set ID [--weight N] [--cpu-max "QUOTA PERIOD"] [--pin | --no-pin]
                               change CPU shares, also while the VM runs
  snapshot ID FILE [--diff]    save the VM to FILE (on the host's machine) while it runs; --diff: only
                               what changed since its last snapshot
  clone ID NEWID [--start | --no-start]
                               a new VM from ID's live state (default: it runs if ID runs)
  migrate ID DEST [--id NEWID] [--max-downtime MS]
                               live-migrate ID to the host at DEST (unix:PATH, a socket path or
                               tcp:HOST:PORT); ID leaves this host once DEST has it
  console ID [--no-follow]     the VM's serial line: its recent output, then what it writes live, until
                               the guest's run ends (it stops, is removed or migrated away).
                               On a terminal: raw mode, every key goes to the guest (Ctrl-C too);
                               Ctrl-] detaches (SIGTERM/SIGHUP: the terminal is restored, 143/129).
                               Otherwise stdin is sent to the guest as it comes, and the command still
                               ends with the run, not at the end of stdin, so that the guest's answer is
                               seen. --no-follow: print the recent output and end
  top [--interval S] [--count N]
                               per-VM CPU% and MIPS every S seconds (default 1); --count N: N frames, then
                               exit. On a terminal the screen is redrawn; otherwise frames follow each other

create options:
  --rom FILE               the image to boot (Multiboot ELF, raw binary with --load/--entry, --bios image)
  --snapshot FILE          continue a saved VM (repeat: a full snapshot, then its diffs)
  --mem SIZE               guest RAM (default 128M; a snapshot's own when this machine can read it)
  --engine interp|jit      execution engine (default interp)
  --clock virtual|realtime guest time (default virtual; a snapshot's own, as --mem)
  --idle sleep|skip        a virtual-clock guest halted until a timer event: sleep (default) lets the time
                           pass on the host clock and takes no CPU meanwhile; skip moves guest time on at once
  --cmdline TEXT           the Multiboot command line
  --load ADDR --entry ADDR a raw binary, loaded at --load and started at --entry
  --bits 16|32             a raw binary's mode at --entry (default 32)
  --bios                   a BIOS image
  --weight N               CPU weight, 1-10000 (default 100): contended CPU is shared in proportion
  --cpu-max "QUOTA PERIOD" a CPU cap in µs as cgroup v2's cpu.max, e.g. "25000 100000" (default "max 100000")
  --pin                    a core of its own while it runs
  --shared-thread          a guest of a worker thread shared with other such VMs (cheaper to create and
                           keep; the VMs of a thread share its fate) instead of a thread of its own
  --max-instructions N     the VM ends after N instructions
  --max-cpu-seconds S      the VM ends after S seconds of CPU
  --start                  start it at once
Relative FILEs are taken from this directory (they are sent to the host as absolute paths).

options:
  --socket PATH            the host's API socket (default: $X86JIT_HOST_SOCKET); tcp:HOST:PORT for a host's
                           --listen address
  --json                   (ls, show) the host's JSON as it is
  -h, --help               show this help

exit status: 0 done, 1 the host refused (its one line: x86jit: vm: ...), 2 bad arguments,
69 the host cannot be reached (no socket, nobody listening)
`;

/** The host answered with an error: its one line. */
class Refused extends Error {}

type Info = Record<string, unknown> & {
  id: string; state: string; waiting: boolean; memory: number; instructions: number; mips: number; cpuSeconds: number;
  cpu: { weight: number; max: string; pin: boolean }; thread?: string; createdAt: string;
};
interface HostInfo { cpus: number; memory: number; memoryUsed: number; vms: number; states: Record<string, number> }

export async function vmCommand(argv: string[]): Promise<number> {
  // `--socket` (and --help) may come before the command; everything after it is the command's.
  let i = 0, socket: string | undefined, help = false;
  for (; i < argv.length && argv[i].startsWith('-'); i++) {
    if (argv[i] === '--socket') { socket = argv[++i]; if (socket === undefined) throw new UsageError('--socket: missing value (try: x86jit vm --help)'); }
    else if (argv[i].startsWith('--socket=')) socket = argv[i].slice(9);
    else if (argv[i] === '-h' || argv[i] === '--help') help = true;
    else throw new UsageError(`unknown option '${argv[i]}' before the command (try: x86jit vm --help)`);
  }
  const [command, ...rest] = argv.slice(i);
  if (help || command === 'help') { emit(1, VM_HELP); return 0; }
  if (command === undefined) { emit(2, VM_HELP); return EXIT_USAGE; }
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`vm: unknown command '${command}' (try: x86jit vm --help)`);
  try {
    return await run(rest, (s) => target(s ?? socket));
  } catch (e) {
    if (e instanceof Refused) { emit(2, `x86jit: vm: ${e.message}\n`); return EXIT_REFUSED; }
    if (e instanceof HostUnreachable) { emit(2, `x86jit: vm: ${e.message}\n`); return EXIT_UNAVAILABLE; }
    throw e;
  }
}

/** The host's address: --socket, else $X86JIT_HOST_SOCKET. */
function target(socket: string | undefined): ApiTarget {
  const where = socket ?? process.env.X86JIT_HOST_SOCKET;
  if (where === undefined || where === '') throw new UsageError('vm: which host? give --socket PATH (or set X86JIT_HOST_SOCKET)');
  if (where.startsWith('tcp:')) return parseTcpAddress(where, '--socket');
  return { socketPath: where.startsWith('unix:') ? where.slice(5) : where };
}

/** A command: its arguments, and the host's address (given the command's own --socket, if any). */
type Command = (argv: string[], host: (socket?: string) => ApiTarget) => Promise<number>;

const path = (id: string, sub = ''): string => `/vms/${encodeURIComponent(id)}${sub}`;

/** One request; an error answer becomes Refused with the host's line. */
async function call(host: ApiTarget, method: string, at: string, body?: unknown): Promise<unknown> {
  const r = await apiRequest(host, method, at, body);
  if (r.status >= 400) throw new Refused(errorLine(r.status, r.body));
  return r.body;
}

/** parseCommand for `x86jit vm NAME`, with --socket and --help on every command. */
function parse<T extends Parameters<typeof parseCommand>[2]>(name: string, argv: string[], options: T) {
  const parsed = parseCommand(`vm ${name}`, argv, { ...options, socket: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  return parsed as typeof parsed & { values: { socket?: string; help?: boolean } };
}

/** The positionals a command takes: exactly `names` (or at least them, with `more`). */
function args(name: string, positionals: string[], names: string[], more = false): string[] {
  if (positionals.length < names.length) throw new UsageError(`vm ${name}: expected ${names.join(' ')}${more ? '...' : ''} (try: x86jit vm --help)`);
  if (!more && positionals.length > names.length) throw new UsageError(`vm ${name}: unexpected argument '${positionals[names.length]}' (try: x86jit vm --help)`);
  return positionals;
}

const COMMANDS: Record<string, Command> = {
  create: async (argv, host) => {
    const { values: v, positionals } = parse('create', argv, {
      rom: { type: 'string' }, snapshot: { type: 'string', multiple: true }, mem: { type: 'string' }, engine: { type: 'string' },
      clock: { type: 'string' }, idle: { type: 'string' }, cmdline: { type: 'string' }, load: { type: 'string' }, entry: { type: 'string' }, bits: { type: 'string' },
      bios: { type: 'boolean' }, weight: { type: 'string' }, 'cpu-max': { type: 'string' }, pin: { type: 'boolean' }, 'shared-thread': { type: 'boolean' },
      'max-instructions': { type: 'string' }, 'max-cpu-seconds': { type: 'string' }, start: { type: 'boolean' },
    });
    if (v.help) return help();
    const [id] = args('create', positionals, ['ID']);
    if ((v.rom === undefined) === (v.snapshot === undefined)) throw new UsageError('vm create: give --rom FILE or --snapshot FILE (not both)');
    const body: Record<string, unknown> = {};
    if (v.rom !== undefined) body.rom = resolve(v.rom);
    if (v.snapshot !== undefined) body.snapshot = v.snapshot.map((f) => resolve(f));
    if (v.mem !== undefined) body.memory = parseSize(v.mem, '--mem');
    if (v.engine !== undefined) body.engine = oneOf(v.engine, '--engine', ['interp', 'jit']);
    if (v.clock !== undefined) body.clock = oneOf(v.clock, '--clock', ['virtual', 'realtime']);
    if (v.idle !== undefined) body.idle = oneOf(v.idle, '--idle', ['sleep', 'skip']);
    // The API takes a snapshot's VM to have the default RAM and clock unless told; say the snapshot's (as `run --restore` takes them).
    if (v.snapshot !== undefined && (body.memory === undefined || body.clock === undefined)) {
      const config = snapshotConfig(body.snapshot as string[]);
      if (config) { body.memory ??= config.memory; body.clock ??= config.clock; }
    }
    if (v.cmdline !== undefined) body.cmdline = v.cmdline;
    if (v.load !== undefined) body.load = parseNumber(v.load, '--load', 0xffff_ffff);
    if (v.entry !== undefined) body.entry = parseNumber(v.entry, '--entry', 0xffff_ffff);
    if (v.bits !== undefined) body.bits = Number(oneOf(v.bits, '--bits', ['16', '32']));
    if (v.bios) body.bios = true;
    const cpu: Record<string, unknown> = {};
    if (v.weight !== undefined) cpu.weight = parseNumber(v.weight, '--weight');
    if (v['cpu-max'] !== undefined) cpu.max = v['cpu-max'];
    if (v.pin) cpu.pin = true;
    if (Object.keys(cpu).length > 0) body.cpu = cpu;
    if (v['shared-thread']) body.thread = 'shared';
    const limits: Record<string, unknown> = {};
    if (v['max-instructions'] !== undefined) limits.instructions = parseNumber(v['max-instructions'], '--max-instructions');
    if (v['max-cpu-seconds'] !== undefined) limits.cpuSeconds = parseSeconds(v['max-cpu-seconds'], '--max-cpu-seconds');
    if (Object.keys(limits).length > 0) body.limits = limits;
    if (v.start) body.start = true;
    const info = await call(host(v.socket), 'PUT', path(id), body) as Info;
    emit(1, `${info.id}: created (${info.state})\n`);
    return 0;
  },

  ls: async (argv, host) => {
    const { values: v, positionals } = parse('ls', argv, { json: { type: 'boolean' } });
    if (v.help) return help();
    args('ls', positionals, []);
    const { vms } = await call(host(v.socket), 'GET', '/vms') as { vms: Info[] };
    if (v.json) { emit(1, `${JSON.stringify(vms, null, 2)}\n`); return 0; }
    const now = Date.now();
    emit(1, table(['ID', 'STATE', 'CPU%', 'WEIGHT', 'MIPS', 'INSTRUCTIONS', 'CPU-SECONDS', 'MEMORY'], vms.map((vm) => {
      const age = (now - Date.parse(vm.createdAt)) / 1000;
      return [vm.id, stateText(vm), age > 0 ? percent(vm.cpuSeconds / age) : '-', shares(vm.cpu), vm.mips.toFixed(2), String(vm.instructions), vm.cpuSeconds.toFixed(3), sizeText(vm.memory)];
    })));
    return 0;
  },

  show: async (argv, host) => {
    const { values: v, positionals } = parse('show', argv, { json: { type: 'boolean' } });
    if (v.help) return help();
    const [id] = args('show', positionals, ['ID']);
    const info = await call(host(v.socket), 'GET', path(id)) as Info;
    emit(1, v.json ? `${JSON.stringify(info, null, 2)}\n` : showText(info));
    return 0;
  },

  start: action('start'), pause: action('pause'), resume: action('resume'), stop: action('stop'), reset: action('reset'),

  rm: async (argv, host) => {
    const { values: v, positionals } = parse('rm', argv, {});
    if (v.help) return help();
    return eachVm(args('rm', positionals, ['ID'], true), async (id) => {
      await call(host(v.socket), 'DELETE', path(id));
      emit(1, `${id}: removed\n`);
    });
  },

  set: async (argv, host) => {
    const { values: v, positionals } = parse('set', argv, { weight: { type: 'string' }, 'cpu-max': { type: 'string' }, pin: { type: 'boolean' }, 'no-pin': { type: 'boolean' } });
    if (v.help) return help();
    const [id] = args('set', positionals, ['ID']);
    if (v.pin && v['no-pin']) throw new UsageError('vm set: --pin or --no-pin, not both');
    const cpu: Record<string, unknown> = {};
    if (v.weight !== undefined) cpu.weight = parseNumber(v.weight, '--weight');
    if (v['cpu-max'] !== undefined) cpu.max = v['cpu-max'];
    if (v.pin || v['no-pin']) cpu.pin = v.pin === true;
    if (Object.keys(cpu).length === 0) throw new UsageError('vm set: nothing to change (give --weight, --cpu-max, --pin or --no-pin)');
    const info = await call(host(v.socket), 'PATCH', path(id), { cpu }) as Info;
    emit(1, `${info.id}: cpu ${shares(info.cpu)}\n`);
    return 0;
  },

  snapshot: async (argv, host) => {
    const { values: v, positionals } = parse('snapshot', argv, { diff: { type: 'boolean' } });
    if (v.help) return help();
    const [id, file] = args('snapshot', positionals, ['ID', 'FILE']);
    const r = await call(host(v.socket), 'PUT', path(id, '/snapshot'), { path: resolve(file), type: v.diff ? 'diff' : 'full' }) as { path: string; bytes: number; type: string };
    emit(1, `${id}: ${r.type} snapshot ${r.path} (${r.bytes} bytes)\n`);
    return 0;
  },

  clone: async (argv, host) => {
    const { values: v, positionals } = parse('clone', argv, { start: { type: 'boolean' }, 'no-start': { type: 'boolean' } });
    if (v.help) return help();
    const [id, newId] = args('clone', positionals, ['ID', 'NEWID']);
    if (v.start && v['no-start']) throw new UsageError('vm clone: --start or --no-start, not both');
    const body: Record<string, unknown> = { id: newId };
    if (v.start || v['no-start']) body.start = v.start === true;
    const info = await call(host(v.socket), 'POST', path(id, '/clone'), body) as Info;
    emit(1, `${info.id}: cloned from ${id} (${info.state})\n`);
    return 0;
  },

  migrate: async (argv, host) => {
    const { values: v, positionals } = parse('migrate', argv, { id: { type: 'string' }, 'max-downtime': { type: 'string' } });
    if (v.help) return help();
    const [id, dest] = args('migrate', positionals, ['ID', 'DEST']);
    let to: string;
    if (dest.startsWith('tcp:')) { const t = parseTcpAddress(dest, 'DEST'); to = `tcp:${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`; }
    else to = `unix:${resolve(dest.startsWith('unix:') ? dest.slice(5) : dest)}`;
    const body: Record<string, unknown> = { to };
    if (v.id !== undefined) body.id = v.id;
    if (v['max-downtime'] !== undefined) body.maxDowntimeMs = parseNumber(v['max-downtime'], '--max-downtime');
    const r = await call(host(v.socket), 'PUT', path(id, '/migrate'), body) as Record<string, unknown> & { outcome: string };
    if (r.outcome === 'migrated') {
      const rep = r.report as { rounds: number; bytes: number; totalMs: number; downtimeMs: number };
      emit(1, `${id}: migrated to ${dest} as ${String(r.id)} (${rep.rounds} rounds, ${sizeText(rep.bytes, true)} sent, ${rep.downtimeMs.toFixed(1)} ms down, ${rep.totalMs.toFixed(0)} ms in all)\n`);
      return 0;
    }
    if (r.outcome === 'guest-ended') throw new Refused(`the guest of '${id}' ended during the migration: ${(r.exit as { message?: string })?.message ?? 'its run ended'}`);
    throw new Refused(`migration failed: ${String(r.reason)}; '${id}' runs on here`);
  },

  console: async (argv, host) => {
    const { values: v, positionals } = parse('console', argv, { 'no-follow': { type: 'boolean' } });
    if (v.help) return help();
    const [id] = args('console', positionals, ['ID']);
    return attach(host(v.socket), id, !v['no-follow']);
  },

  top: async (argv, host) => {
    const { values: v, positionals } = parse('top', argv, { interval: { type: 'string' }, count: { type: 'string' } });
    if (v.help) return help();
    args('top', positionals, []);
    const interval = v.interval !== undefined ? parseSeconds(v.interval, '--interval') : 1;
    const count = v.count !== undefined ? parseNumber(v.count, '--count') : Infinity;
    if (count < 1) throw new UsageError('--count: at least 1');
    return top(host(v.socket), interval, count);
  },
};

function help(): number { emit(1, VM_HELP); return 0; }

/** The RAM size and clock of the snapshot the chain continues, if this machine can read its first file (else the host decides). */
function snapshotConfig(files: string[]): { memory: number; clock: string } | null {
  try { return inspectSnapshot(new Uint8Array(readFileSync(files[0]))).state.config; } catch { return null; }
}

/** `f` for each VM in turn; a refusal is reported and the others go on (status 1 at the end), as `rm a b` does. */
async function eachVm(ids: string[], f: (id: string) => Promise<void>): Promise<number> {
  let status = 0;
  for (const id of ids) {
    try { await f(id); } catch (e) {
      if (!(e instanceof Refused)) throw e;
      emit(2, `x86jit: vm: ${e.message}\n`);
      status = EXIT_REFUSED;
    }
  }
  return status;
}

function action(name: 'start' | 'pause' | 'resume' | 'stop' | 'reset'): Command {
  return async (argv, host) => {
    const { values: v, positionals } = parse(name, argv, {});
    if (v.help) return help();
    return eachVm(args(name, positionals, ['ID'], true), async (id) => {
      const info = await call(host(v.socket), 'PUT', path(id, '/actions'), { action: name }) as Info;
      emit(1, `${info.id}: ${stateText(info)}\n`);
    });
  };
}

function oneOf(value: string, option: string, values: string[]): string {
  if (!values.includes(value)) throw new UsageError(`${option}: expected ${values.join(' or ')}, got '${value}'`);
  return value;
}

// ---- the console ----

/**
 * Print the console's history and (follow) what the guest writes until its run ends; send what is typed
 * (a terminal, in raw mode, until Ctrl-]) or piped in. Input goes one request at a time, in order; stdin
 * pauses meanwhile, so a large pipe waits in the pipe.
 */
async function attach(host: ApiTarget, id: string, follow: boolean): Promise<number> {
  const res = await apiStream(host, `${path(id, '/console')}${follow ? '' : '?follow=0'}`);
  if ((res.statusCode ?? 0) >= 400) {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    let body: unknown = Buffer.concat(chunks).toString();
    try { body = JSON.parse(body as string); } catch { /* text */ }
    throw new Refused(errorLine(res.statusCode ?? 0, body));
  }
  const tty = follow && process.stdin.isTTY === true;
  let failure: Error | null = null, detached = false, finished = false, signalled: 'SIGTERM' | 'SIGHUP' | null = null;
  const done = new Promise<void>((resolveDone) => {
    const finish = (): void => { finished = true; res.destroy(); resolveDone(); };
    res.on('data', (c: Buffer) => { if (!emit(1, c)) finish(); }); // stdout closed: nothing more to show
    res.on('end', finish);
    // The host going away mid-stream (not our own destroy after a detach).
    const broke = (why: string): void => { if (!finished) { failure ??= new HostUnreachable(`the connection to the host at ${describeTarget(host)} broke: ${why}`); finish(); } };
    res.on('error', (e) => broke((e as NodeJS.ErrnoException).code ?? e.message));
    res.on('aborted', () => broke('the host closed it'));
    if (!follow) return;
    const stdin = process.stdin;
    stdin.on('error', () => {}); // no stdin (closed): nothing to send
    if (tty) {
      stdin.setRawMode(true); // (the terminal still turns \n into \r\n on output)
      emit(2, `Connected to VM '${id}' (escape character is ^])\n`);
      // Killed from elsewhere: the terminal is given back first.
      for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.once(sig, () => { signalled = sig; finish(); });
    }
    stdin.on('data', (chunk: Buffer) => {
      let bytes = chunk;
      if (tty) {
        const at = chunk.indexOf(DETACH);
        if (at >= 0) { bytes = chunk.subarray(0, at); detached = true; }
      }
      const last = detached;
      if (bytes.length === 0) { if (last) finish(); return; }
      stdin.pause();
      apiRequest(host, 'POST', path(id, '/console'), new Uint8Array(bytes)).then((r) => {
        // A run that just ended refuses input (409); the stream ends with it.
        if (r.status >= 400 && r.status !== 409) { failure ??= new Refused(errorLine(r.status, r.body)); finish(); return; }
        if (last) finish(); else stdin.resume();
      }, (e: Error) => { failure ??= e; finish(); });
    });
  });
  try {
    await done;
  } finally {
    if (tty) { try { process.stdin.setRawMode(false); } catch { /* the terminal is gone */ } }
    process.stdin.pause();
  }
  if (failure) throw failure;
  if (signalled) return signalled === 'SIGTERM' ? 143 : 129;
  if (tty) {
    if (detached) emit(2, '\n');
    else {
      const info = await call(host, 'GET', path(id)).catch(() => null) as Info | null;
      emit(2, `\nx86jit: vm: console: the run of '${id}' ended${info ? `: ${exitText(info)}` : ''}\n`);
    }
  }
  return 0;
}

// ---- top ----

interface Sample { t: number; host: HostInfo; vms: Info[] }

async function sample(host: ApiTarget): Promise<Sample> {
  const [h, list] = await Promise.all([call(host, 'GET', '/'), call(host, 'GET', '/vms')]);
  return { t: performance.now(), host: h as HostInfo, vms: (list as { vms: Info[] }).vms };
}

/** A frame every `interval` seconds from the changes since the last one (CPU% from cpuSeconds, MIPS from instructions). */
async function top(host: ApiTarget, interval: number, count: number): Promise<number> {
  const tty = process.stdout.isTTY === true;
  let prev = await sample(host);
  for (let frame = 0; frame < count; frame++) {
    await new Promise((r) => setTimeout(r, interval * 1000));
    const cur = await sample(host);
    const text = topFrame(prev, cur);
    if (!emit(1, tty ? `\x1b[H\x1b[2J${text}` : `${frame > 0 ? '\n' : ''}${text}`)) return 0; // the reader went away
    prev = cur;
  }
  return 0;
}

function topFrame(prev: Sample, cur: Sample): string {
  const dt = (cur.t - prev.t) / 1000;
  const before = new Map(prev.vms.map((vm) => [vm.id, vm]));
  let total = 0;
  const rows = cur.vms.map((vm) => {
    const old = before.get(vm.id);
    // A VM new since the last frame (created, cloned, migrated in) has no rate yet; its MIPS is the host's.
    const cpu = old ? Math.max(0, vm.cpuSeconds - old.cpuSeconds) / dt : null;
    const mips = old && vm.instructions >= old.instructions ? (vm.instructions - old.instructions) / dt / 1e6 : vm.mips;
    total += cpu ?? 0;
    return { vm, cpu, mips };
  }).sort((a, b) => (b.cpu ?? -1) - (a.cpu ?? -1) || a.vm.id.localeCompare(b.vm.id));
  const h = cur.host, s = h.states;
  const head = `x86jit host ${new Date().toTimeString().slice(0, 8)}: ${h.cpus} CPUs, CPU ${percent(total)} of ${h.cpus * 100}%; `
    + `${h.vms} VMs: ${s.running} running, ${s.paused} paused, ${s.created} created, ${s.stopped} stopped; `
    + `guest memory ${sizeText(h.memoryUsed)} of ${sizeText(h.memory)}\n\n`;
  return head + table(['ID', 'STATE', 'CPU%', 'WEIGHT', 'MIPS', 'INSTRUCTIONS', 'CPU-SECONDS', 'MEMORY'],
    rows.map(({ vm, cpu, mips }) => [vm.id, stateText(vm), cpu === null ? '-' : percent(cpu), shares(vm.cpu), mips.toFixed(2), String(vm.instructions), vm.cpuSeconds.toFixed(3), sizeText(vm.memory)]));
}

// ---- text ----

/** Columns padded to their widest cell: the first two (ID, STATE) left-aligned, the numbers right-aligned. */
function table(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const width = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(width[c]) : cell.padStart(width[c]))).join('  ').trimEnd()).join('\n') + '\n';
}

function percent(fraction: number): string { return (fraction * 100).toFixed(1); }

/** 64M, 1G, 1.5G; exact (bytes) in KiB when it is not whole MiB. */
function sizeText(bytes: number, approximate = false): string {
  if (bytes >= 2 ** 30 && (approximate || bytes % 2 ** 30 === 0)) return `${Number((bytes / 2 ** 30).toFixed(2))}G`;
  if (bytes >= 2 ** 20 && (approximate || bytes % 2 ** 20 === 0)) return `${Number((bytes / 2 ** 20).toFixed(2))}M`;
  if (approximate || bytes % 1024 === 0) return `${Number((bytes / 1024).toFixed(2))}K`;
  return `${bytes}`;
}

/** The CPU shares in short: the weight, then a cap (as a share of one CPU) and pinning when set. */
function shares(cpu: Info['cpu']): string {
  const [q, p] = cpu.max.split(' ');
  return `${cpu.weight}${q !== 'max' ? ` max${Math.round((Number(q) / Number(p)) * 100)}%` : ''}${cpu.pin ? ' pin' : ''}`;
}

function stateText(vm: Info): string { return vm.state === 'running' && vm.waiting ? 'waiting' : vm.state; }

function exitText(vm: Info): string {
  const e = vm.exit as { reason: string; message: string; cs: number; eip: number } | null;
  if (!e) return vm.state;
  const at = e.cs || e.eip ? ` at ${e.cs.toString(16).padStart(4, '0')}:${e.eip.toString(16).padStart(8, '0')}` : '';
  return `${e.reason}: ${e.message}${at}`;
}

function showText(vm: Info): string {
  const lines: [string, string][] = [];
  const source = vm.source as { rom?: string; snapshot?: string[] };
  const limits = vm.limits as { instructions?: number; cpuSeconds?: number };
  const exits = Object.entries(vm.exits as Record<string, number>);
  const jit = vm.jit as { compiled: number; live: number; instructions: number } | null;
  lines.push(['id', vm.id]);
  lines.push(['state', vm.state === 'running' && vm.waiting ? 'running (halted, waiting for console input)'
    : vm.state === 'running' && vm.sleeping ? 'running (halted until a timer event)' : vm.state]);
  if (vm.exit) lines.push(['exit', exitText(vm)]);
  lines.push(['source', source.rom !== undefined ? `rom ${source.rom}` : `snapshot ${(source.snapshot ?? []).join(' ')}`]);
  if (vm.cmdline !== undefined) lines.push(['cmdline', String(vm.cmdline)]);
  lines.push(['memory', sizeText(vm.memory)]);
  lines.push(['engine', String(vm.engine)]);
  lines.push(['clock', vm.clock === 'virtual' && vm.idle !== undefined ? `virtual, idle ${String(vm.idle)}` : String(vm.clock)]);
  lines.push(['cpu', `weight ${vm.cpu.weight}, max "${vm.cpu.max}"${vm.cpu.pin ? ', pinned' : ''}`]);
  lines.push(['thread', vm.thread === 'shared' ? 'shared with other VMs' : 'its own']);
  lines.push(['limits', [limits.instructions !== undefined ? `${limits.instructions} instructions` : '', limits.cpuSeconds !== undefined ? `${limits.cpuSeconds} CPU seconds` : ''].filter((x) => x).join(', ') || 'none']);
  lines.push(['instructions', String(vm.instructions)]);
  lines.push(['mips', vm.mips.toFixed(2)]);
  lines.push(['cpu seconds', vm.cpuSeconds.toFixed(3)]);
  lines.push(['exits', exits.length ? exits.map(([k, n]) => `${k} ${n}`).join(', ') : 'none']);
  if (jit) lines.push(['jit', `${jit.compiled} regions compiled (${jit.live} live), ${jit.instructions} instructions in compiled code`]);
  lines.push(['console', `${String(vm.consoleBytes)} bytes written`]);
  if (vm.startLatencyMs !== null && vm.startLatencyMs !== undefined) lines.push(['start latency', `${String(vm.startLatencyMs)} ms`]);
  lines.push(['created', String(vm.createdAt)]);
  const w = Math.max(...lines.map(([k]) => k.length)) + 1;
  return lines.map(([k, val]) => `${`${k}:`.padEnd(w)} ${val}\n`).join('');
}
