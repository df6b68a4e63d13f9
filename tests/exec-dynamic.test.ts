// `x86jit exec --root SYSROOT`: Debian's own dynamically linked i386 coreutils (ld-linux.so.2 loading
// libc.so.6, libselinux ...) under both engines must print exactly what `qemu-i386 -L SYSROOT` prints,
// run live, and exit with its status. And --overlay: programs that change files leave the real tree
// byte for byte as it was, the overlay holds their changes, and a second run sees them.
// The sysroot comes from scripts/fetch-i386-sysroot.sh (.cache/i386/root; .ci/run fetches it). Without
// it these tests skip, saying why — except under CI (X86JIT_CI=1), where a missing sysroot is a failure.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Process, VM } from '../src/node.ts';

const REPO = join(import.meta.dirname, '..');
const SYSROOT = process.env.X86JIT_I386_SYSROOT ?? join(REPO, '.cache', 'i386', 'root');
const HAVE_SYSROOT = fs.existsSync(join(SYSROOT, 'lib', 'ld-linux.so.2')) && fs.existsSync(join(SYSROOT, 'bin', 'ls'));
const HAVE_QEMU = spawnSync('qemu-i386', ['--version']).status === 0;
const CI = process.env.X86JIT_CI === '1';

interface Result { stdout: string; stderr: string; status: number | null }
/** The environment of every run: the output must not depend on the machine's locale or time zone. */
const ENV = { PATH: '/usr/bin:/bin', TZ: 'UTC', LANG: 'C', LC_ALL: 'C' };

/**
 * x86jit exec --root ROOT [--overlay DIR] ARGV, in this process through the library (a VM per run, as the
 * CLI makes; one Node start and one JIT warm-up for all the runs): stdin from `input`, stdout and stderr
 * captured, a killing signal reported as the CLI reports it.
 */
async function ours(engine: 'interp' | 'jit', root: string | undefined, argv: string[], input = '', overlay?: string): Promise<Result> {
  const dir = fs.mkdtempSync(join(tmpdir(), 'x86jit-io-'));
  try {
    fs.writeFileSync(join(dir, 'in'), input);
    const stdio: [number, number, number] = [fs.openSync(join(dir, 'in'), 'r'), fs.openSync(join(dir, 'out'), 'w'), fs.openSync(join(dir, 'err'), 'w')];
    let status: number | null = null, message = '';
    try {
      const vm = await VM.create({ engine, memory: 64 << 20, jit: { cacheDir: null } });
      const p = new Process(vm, fs.readFileSync(root === undefined ? argv[0] : join(root, argv[0])), argv[0], {
        argv, env: Object.entries(ENV).map(([k, v]) => `${k}=${v}`), root, overlay, stdio,
      });
      const r = p.run({ timeout: 60 });
      if (r.kind === 'exit') status = r.status;
      else if (r.kind === 'signal') { status = 128 + r.signal; message = `x86jit: ${r.message}\n`; } else message = `x86jit: ${r.exit.reason}: ${r.exit.message}\n`;
    } finally { for (const fd of stdio) fs.closeSync(fd); }
    return { stdout: fs.readFileSync(join(dir, 'out'), 'utf8'), stderr: fs.readFileSync(join(dir, 'err'), 'utf8') + message, status };
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

/**
 * qemu-i386 -L ROOT, argv[0] as the program is named inside the root (as ours names it), in ROOT as its
 * working directory (qemu-i386 -L redirects only some calls into ROOT — not statx — so the cases name
 * their files relative to the root, which is our process's working directory too).
 */
function qemu(root: string, argv: string[], input = ''): Result {
  // stdin a file, as ours gets it (wc sizes its columns from a regular file's length).
  const dir = fs.mkdtempSync(join(tmpdir(), 'x86jit-io-'));
  fs.writeFileSync(join(dir, 'in'), input);
  const stdin = fs.openSync(join(dir, 'in'), 'r');
  try {
    const r = spawnSync('qemu-i386', ['-L', root, '-0', argv[0], join(root, argv[0]), ...argv.slice(1)], { env: ENV, stdio: [stdin, 'pipe', 'pipe'], cwd: root, encoding: 'utf8', timeout: 60_000 });
    return { stdout: r.stdout, stderr: r.stderr, status: r.status };
  } finally { fs.closeSync(stdin); fs.rmSync(dir, { recursive: true, force: true }); }
}

/** A small root: the sysroot's libraries and programs, /etc/passwd and /etc/group, and a fixture tree. */
function makeRoot(): string {
  const t = fs.mkdtempSync(join(tmpdir(), 'x86jit-root-'));
  fs.cpSync(join(SYSROOT, 'lib'), join(t, 'lib'), { recursive: true, verbatimSymlinks: true });
  fs.cpSync(join(SYSROOT, 'bin'), join(t, 'bin'), { recursive: true, verbatimSymlinks: true });
  fs.mkdirSync(join(t, 'usr/bin'), { recursive: true });
  fs.cpSync(join(SYSROOT, 'usr/bin/sha256sum'), join(t, 'usr/bin/sha256sum'));
  fs.mkdirSync(join(t, 'usr/lib/i386-linux-gnu'), { recursive: true });
  for (const f of fs.readdirSync(join(SYSROOT, 'usr/lib/i386-linux-gnu'))) {
    if (/^lib(acl|attr|pcre2-8)\.so/.test(f)) fs.cpSync(join(SYSROOT, 'usr/lib/i386-linux-gnu', f), join(t, 'usr/lib/i386-linux-gnu', f), { verbatimSymlinks: true });
  }
  fs.mkdirSync(join(t, 'etc'));
  fs.writeFileSync(join(t, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  fs.writeFileSync(join(t, 'etc/group'), 'root:x:0:\nstaff:x:1000:\n');
  fs.writeFileSync(join(t, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\n');
  const d = join(t, 'data');
  fs.mkdirSync(join(d, 'dir'), { recursive: true });
  fs.writeFileSync(join(d, 'keep.txt'), 'kept\n');
  fs.writeFileSync(join(d, 'del.txt'), 'to be deleted\n');
  fs.writeFileSync(join(d, 'dir/x'), 'x\n');
  fs.chmodSync(join(d, 'del.txt'), 0o640);
  fs.symlinkSync('keep.txt', join(d, 'link'));
  const when = new Date('2024-02-29T12:34:56Z');
  for (const f of ['keep.txt', 'del.txt', 'dir/x', 'dir', '.']) fs.utimesSync(join(d, f), when, when);
  fs.lutimesSync(join(d, 'link'), when, when);
  return t;
}

/** Every file under `dir`: path, type, mode, size, mtime and contents, hashed. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    h.update(`${relative(dir, p)}\0${st.mode}\0${st.size}\0${st.mtimeMs}\0`);
    if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
    else if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(join(p, n));
    else h.update(fs.readFileSync(p));
  };
  walk(dir);
  return h.digest('hex');
}

const temps: string[] = [];
afterAll(() => { for (const t of temps) fs.rmSync(t, { recursive: true, force: true }); });

describe('x86jit exec: the sysroot for dynamic programs', () => {
  it.runIf(CI)('is there under CI (scripts/fetch-i386-sysroot.sh, run by .ci/run)', () => {
    expect(HAVE_SYSROOT, `no i386 sysroot at ${SYSROOT}`).toBe(true);
    expect(HAVE_QEMU, 'no qemu-i386').toBe(true);
  });
  if (!HAVE_SYSROOT || !HAVE_QEMU) {
    const why = !HAVE_SYSROOT ? `no i386 sysroot at ${SYSROOT} (run scripts/fetch-i386-sysroot.sh)` : 'no qemu-i386 (apt-get install qemu-user)';
    console.log(`exec-dynamic: skipping Debian's dynamic programs: ${why}`);
    it.skip(`Debian's dynamic programs: ${why}`, () => {});
  }
});

describe.runIf(HAVE_SYSROOT && HAVE_QEMU)("x86jit exec --root: Debian's dynamic coreutils against qemu-i386 -L", () => {
  const cases: Array<{ name: string; argv: string[]; input?: string; fixture?: boolean }> = [
    { name: 'echo', argv: ['/bin/echo', 'hello', 'dynamic', 'world'] },
    { name: 'cat: stdin, a symlink, .. and a missing file', argv: ['/bin/cat', '-', 'data/link', 'data/dir/../keep.txt', 'data/nothing'], input: 'line one\nline two\n', fixture: true },
    { name: 'wc', argv: ['/usr/bin/wc'], input: 'one two three\nfour\n\nfive six\n' },
    // x87 code: gnulib's hash tables (sort), strtold and long-double printf (seq, numfmt, printf).
    { name: 'sort (x87 in gnulib hash tuning)', argv: ['/usr/bin/sort'], input: 'pear\napple\nfig\nbanana\n10\n9\n' },
    // (-S: without sysinfo, which exec lacks, sort -g sizes its buffer so small that it wants a temporary file.)
    { name: 'sort -g (strtold, long-double compares)', argv: ['/usr/bin/sort', '-g', '-S', '1M'], input: '3.5\n-1e3\n2\n0x10\n1e-5\ninf\nnan\n-0\n' },
    { name: 'seq 1 0.5 5 (long double)', argv: ['/usr/bin/seq', '1', '0.5', '5'] },
    { name: 'seq -f %.3Lf 0.1 0.3 1.5', argv: ['/usr/bin/seq', '-f', '%.3Lf', '0.1', '0.3', '1.5'] },
    { name: 'numfmt --to=iec', argv: ['/usr/bin/numfmt', '--to=iec', '123456789', '1023', '1048575'] },
    { name: 'numfmt --from=si --round=nearest', argv: ['/usr/bin/numfmt', '--from=si', '--round=nearest', '1.5K', '2.25M', '7G'] },
    { name: 'printf %.3f %e %g %a', argv: ['/usr/bin/printf', '%.3f %e %g %La %.20Lg\n', '3.14159', '-2.5e-300', '1e100', '0.1', '1.1'] },
    { name: 'sha256sum', argv: ['/usr/bin/sha256sum', '-', 'data/keep.txt'], input: 'pear\napple\nfig\nbanana\n', fixture: true },
    { name: 'true', argv: ['/bin/true'] },
    { name: 'false', argv: ['/bin/false'] },
    { name: 'ls -la', argv: ['/bin/ls', '-la', 'data'], fixture: true },
  ];
  let fixtureRoot = '';
  const rootFor = (fixture?: boolean): string => {
    if (!fixture) return SYSROOT;
    if (fixtureRoot === '') { fixtureRoot = makeRoot(); temps.push(fixtureRoot); }
    return fixtureRoot;
  };
  for (const c of cases) {
    it(`${c.name}: interp and jit print what qemu-i386 prints, with its status`, async () => {
      const root = rootFor(c.fixture);
      const expected = qemu(root, c.argv, c.input);
      if (c.name === 'true' || c.name === 'false') expect(expected.status).toBe(c.name === 'true' ? 0 : 1);
      else expect(expected.stdout + expected.stderr, 'qemu-i386 printed nothing').not.toBe('');
      for (const engine of ['interp', 'jit'] as const) expect(await ours(engine, root, c.argv, c.input), engine).toEqual(expected);
    }, 60_000);
  }
  it("without --root a dynamic program uses the host's /lib/ld-linux.so.2, and cannot load where there is none", async () => {
    const path = join(SYSROOT, 'bin/false');
    if (fs.existsSync('/lib/ld-linux.so.2')) {
      // An i386 loader on this host (Debian's libc6-i386): it runs, as the kernel would run it.
      expect(await ours('interp', undefined, [path])).toEqual({ stdout: '', stderr: '', status: 1 });
      return;
    }
    const vm = await VM.create({ memory: 32 << 20 });
    expect(() => new Process(vm, fs.readFileSync(path), path, {}))
      .toThrow(/^dynamically linked program: its interpreter \/lib\/ld-linux.so.2 is not on this host; give an i386 sysroot with --root DIR/);
  });
});

describe.runIf(HAVE_SYSROOT)('x86jit exec --overlay: changes go to the overlay, the real tree stays as it was', () => {
  it('rm, mkdir, rmdir, chmod, ln -s, touch, dd: real tree byte-identical, overlay holds the changes, a second run sees them', async () => {
    const root = makeRoot(), overlay = fs.mkdtempSync(join(tmpdir(), 'x86jit-overlay-'));
    temps.push(root, overlay);
    const before = treeHash(root);
    const run = (argv: string[], input = ''): Promise<Result> => ours('interp', root, argv, input, overlay);
    const ok = { stdout: '', stderr: '', status: 0 };
    // (No mv, cp or rm -r: gnulib's hash tables use x87 instructions, which x86jit does not have.)
    for (const argv of [
      ['/bin/rm', '/data/del.txt', '/data/keep.txt'], ['/bin/mkdir', '/data/new', '/data/dir/sub'], ['/bin/touch', '/data/new/y'],
      ['/bin/chmod', '600', '/data/dir/x'], ['/bin/ln', '-s', 'dir/x', '/data/xlink'], ['/bin/rm', '/data/new/y'],
      ['/bin/rmdir', '/data/new', '/data/dir/sub'], ['/bin/mkdir', '/data/new'],
    ]) expect(await run(argv), argv.join(' ')).toEqual(ok);
    expect(await run(['/bin/dd', 'of=/data/dir/x', 'oflag=append', 'conv=notrunc', 'status=none'], 'more\n')).toEqual(ok);
    expect(await run(['/bin/dd', 'of=/data/made.txt', 'status=none'], 'made\n')).toEqual(ok);

    expect(treeHash(root)).toBe(before);
    const up = (p: string): string => join(overlay, p);
    expect(fs.readdirSync(up('data')).sort()).toEqual(['.wh.del.txt', '.wh.keep.txt', 'dir', 'made.txt', 'new', 'xlink']);
    expect(fs.readFileSync(up('data/dir/x'), 'utf8')).toBe('x\nmore\n');
    expect(fs.statSync(up('data/dir/x')).mode & 0o777).toBe(0o600);
    expect(fs.readlinkSync(up('data/xlink'))).toBe('dir/x');
    expect(fs.readFileSync(up('data/made.txt'), 'utf8')).toBe('made\n');
    expect(fs.readdirSync(up('data/new'))).toEqual([]); // made, removed with y in it, made again: empty, no whiteout left

    // A second run sees the merged tree: what was deleted is gone, what was made is there.
    expect(await run(['/bin/ls', '-a', '/data', '/data/new'])).toEqual({ stdout: '/data:\n.\n..\ndir\nlink\nmade.txt\nnew\nxlink\n\n/data/new:\n.\n..\n', stderr: '', status: 0 });
    expect(await run(['/bin/cat', '/data/xlink', '/data/made.txt', '/data/del.txt'])).toEqual({ stdout: 'x\nmore\nmade\n', stderr: '/bin/cat: /data/del.txt: No such file or directory\n', status: 1 });
    expect((await run(['/bin/ls', '-l', '/data/dir/x'])).stdout).toMatch(/^-rw------- 1 \S+ \S+ 7 /);
    // The real symlink now dangles: keep.txt is deleted in the merged view.
    expect((await run(['/bin/cat', '/data/link'])).status).toBe(1);
    expect(treeHash(root)).toBe(before);
  }, 60_000);
});

describe('x86jit exec --overlay over the host file system (a static program, no --root)', () => {
  it("suite.elf files DIR prints what qemu-i386 recorded; DIR is as it was, the overlay took the writes", async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'x86jit-real-')), overlay = fs.mkdtempSync(join(tmpdir(), 'x86jit-overlay-'));
    temps.push(dir, overlay);
    const before = treeHash(dir);
    const expected = JSON.parse(fs.readFileSync(join(REPO, 'test-roms/exec/expected/cases.json'), 'utf8')).files as Result;
    for (const engine of ['interp', 'jit'] as const) {
      expect(await ours(engine, undefined, [join(REPO, 'test-roms/exec/suite.elf'), 'files', dir], '', overlay), engine).toEqual(expected);
      expect(treeHash(dir)).toBe(before);
      // Everything the program made it removed again: the overlay holds the directory, with no whiteouts.
      expect(fs.readdirSync(join(overlay, dir))).toEqual([]);
    }
  }, 60_000);
});
