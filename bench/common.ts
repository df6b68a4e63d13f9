// Helpers the `npm run bench` programs share (bench/bench.ts, bench/user-mode.ts): progress and warning lines,
// medians and formatting, integer settings from the environment, timed whole processes, the git state.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Wall-clock limit of one run (in-process or whole process), seconds. */
export const RUN_TIMEOUT = 300;

export const progress = (msg: string): void => { process.stderr.write(`bench: ${msg}\n`); };
export const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
export const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
export const median = (xs: number[]): number => { const a = [...xs].sort((p, q) => p - q); return a[a.length >> 1]; };
export const medianOf = (xs: (number | null | undefined)[]): number | null => { const ok = xs.filter(isNum); return ok.length ? median(ok) : null; };
export const geomeanOf = (xs: (number | null | undefined)[]): number | null => {
  const ok = xs.filter((x): x is number => isNum(x) && x > 0);
  return ok.length ? Math.exp(ok.reduce((a, x) => a + Math.log(x), 0) / ok.length) : null;
};
export const fmt = (x: number | null | undefined, digits = 0, suffix = ''): string => (isNum(x) ? `${x.toFixed(digits)}${suffix}` : 'n/a');
export const int = (x: number | null | undefined): string => (isNum(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
export const times = (x: number | null | undefined): string => (isNum(x) ? `${x.toFixed(2)}×` : 'n/a');
export const millions = (x: number | null | undefined): string => (isNum(x) ? `${(x / 1e6).toFixed(1)} M` : 'n/a');
export const met = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'met' : '**not met**');

/** An integer setting from the environment (`dflt` when unset); out of range: one line and exit 2. */
export function envInt(name: string, dflt: number | null, min: number, max: number): number | null {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`bench: ${name} must be an integer from ${min} to ${max}, not ${v}\n`);
    process.exit(2);
  }
  return n;
}

/** CPU time (user + system) of this process's waited-for children, ms: fields 16-17 of /proc/self/stat, in
 * clock ticks of 10 ms (USER_HZ 100 on Linux); null elsewhere. What a run costs whatever the machine's load. */
export function childrenCpuMs(): number | null {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');   // after "pid (comm) "
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return null;
  }
}

export interface TimedRun {
  ms: number; status: number | null; signal: string | null; stdout: string; stderr: string;
  /** CPU time of the process and its descendants, ms (10 ms resolution; null where /proc is missing). */
  cpuMs: number | null;
}

/** One whole process, timed from spawn to exit. stdout is kept only with `keepStdout` (else discarded). */
export function spawnTimed(cmd: string, args: string[], env: Record<string, string> = {},
  options: { cwd?: string; keepStdout?: boolean; replaceEnv?: boolean } = {}): TimedRun {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', options.keepStdout ? 'pipe' : 'ignore', 'pipe'], encoding: 'utf8', timeout: RUN_TIMEOUT * 1000,
    env: options.replaceEnv ? env : { ...process.env, ...env }, cwd: options.cwd, maxBuffer: 64 << 20,
  });
  const ms = performance.now() - t0;
  const cpu1 = childrenCpuMs();
  return {
    ms, status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? `\n${errorText(r.error)}` : ''}`,
    cpuMs: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null,
  };
}

/** HEAD and whether src/ or jit/ differ from it (the code measured). */
export function gitState(root: string): { commit: string | null; dirty: boolean | null } {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const st = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'jit'], { cwd: root, encoding: 'utf8' });
  return { commit: head.status === 0 ? head.stdout.trim() : null, dirty: st.status === 0 ? st.stdout.trim() !== '' : null };
}
