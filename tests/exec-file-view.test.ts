// The file system `x86jit exec` shows a program: guest paths resolved inside --root (src/exec/guest-path.ts)
// — `..`, absolute and relative symlinks and loops cannot leave it — and the --overlay layer
// (src/exec/file-view.ts): copy-up, whiteouts, opaque directories, the merged listing, rename.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileView } from '../src/exec/file-view.ts';
import { type GuestEntry, MAX_SYMLINKS, resolveGuestPath } from '../src/exec/guest-path.ts';

const ENOENT = -2, ENOTDIR = -20, ELOOP = -40;
const temps: string[] = [];
const temp = (name: string): string => { const d = fs.mkdtempSync(join(tmpdir(), `x86jit-${name}-`)); temps.push(d); return d; };
afterAll(() => { for (const d of temps) fs.rmSync(d, { recursive: true, force: true }); });

describe('resolveGuestPath', () => {
  // A tree given as data: directories, files and symlinks by guest path.
  const tree: Record<string, GuestEntry> = {
    '/etc': { kind: 'dir' }, '/etc/passwd': { kind: 'file' }, '/home': { kind: 'dir' }, '/home/u': { kind: 'dir' },
    '/home/u/abs': { kind: 'link', target: '/etc/passwd' }, '/home/u/up': { kind: 'link', target: '../../../../etc' },
    '/home/u/loop1': { kind: 'link', target: 'loop2' }, '/home/u/loop2': { kind: 'link', target: 'loop1' },
    '/home/u/self': { kind: 'link', target: 'self/x' }, '/home/u/file': { kind: 'file' }, '/home/u/root': { kind: 'link', target: '/' },
    '/home/u/dangling': { kind: 'link', target: 'nowhere' },
  };
  const lookup = (g: string): GuestEntry => tree[g] ?? null;
  const r = (path: string, follow = true, base = '/home/u'): string | number => resolveGuestPath(lookup, base, path, follow);

  it('clamps .. at the root, as the kernel does at /', () => {
    expect(r('../../etc/passwd')).toBe('/etc/passwd');
    expect(r('../../../../../../etc/passwd')).toBe('/etc/passwd');
    expect(r('/..')).toBe('/');
    expect(r('./.././u//file')).toBe('/home/u/file');
  });
  it('follows an absolute symlink from the root, a relative one from its directory', () => {
    expect(r('abs')).toBe('/etc/passwd');
    expect(r('up/passwd')).toBe('/etc/passwd'); // ../../../../etc from /home/u: clamped
    expect(r('root/../../etc')).toBe('/etc');
  });
  it('does not follow the last component unless asked (lstat, unlink, readlink)', () => {
    expect(r('abs', false)).toBe('/home/u/abs');
    expect(r('abs/', false)).toBe(ENOTDIR); // a trailing slash follows it: /etc/passwd is no directory
    expect(r('up/', false)).toBe('/etc');
  });
  it('ELOOP after too many symlinks, ENOENT and ENOTDIR on the way', () => {
    expect(r('loop1')).toBe(ELOOP);
    expect(r('self')).toBe(ELOOP);
    expect(r('loop1', false)).toBe('/home/u/loop1');
    expect(r('missing/x')).toBe(ENOENT);
    expect(r('file/x')).toBe(ENOTDIR);
    expect(r('')).toBe(ENOENT);
    expect(r('dangling')).toBe('/home/u/nowhere'); // a missing last component is no error: open(O_CREAT) makes it
    expect(MAX_SYMLINKS).toBe(40);
  });
});

describe('FileView --root: nothing outside the root is reachable', () => {
  const root = temp('root'), outside = temp('outside');
  fs.writeFileSync(join(outside, 'secret'), 'secret');
  fs.mkdirSync(join(root, 'etc'));
  fs.writeFileSync(join(root, 'etc/passwd'), 'inside');
  fs.symlinkSync('/etc/passwd', join(root, 'abs'));
  fs.symlinkSync(join(outside, 'secret'), join(root, 'hostlink')); // a host path: inside the root it names nothing
  fs.symlinkSync('../../../../../../..', join(root, 'up'));
  fs.symlinkSync('a', join(root, 'b')); fs.symlinkSync('b', join(root, 'a'));
  const view = new FileView(root);
  const host = (path: string, base = '/'): string | number => { const g = view.resolve(base, path, true); return typeof g === 'number' ? g : view.readPath(g); };

  it('../../etc/passwd, an absolute symlink and a symlink climbing out all land inside', () => {
    expect(host('../../etc/passwd', '/etc')).toBe(join(root, 'etc/passwd'));
    expect(host('abs')).toBe(join(root, 'etc/passwd'));
    expect(host('up/etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(host(`up${outside}/secret`)).toBe(ENOENT);
    expect(host('hostlink')).toBe(ENOENT);
    expect(host('a')).toBe(ELOOP);
    expect(fs.readFileSync(host('up/../abs') as string, 'utf8')).toBe('inside');
  });
});

describe('FileView --overlay', () => {
  const setup = (): { lower: string; upper: string; view: FileView } => {
    const lower = temp('lower'), upper = temp('upper');
    fs.mkdirSync(join(lower, 'd/sub'), { recursive: true });
    fs.writeFileSync(join(lower, 'd/a'), 'a');
    fs.writeFileSync(join(lower, 'd/sub/s'), 's');
    fs.chmodSync(join(lower, 'd/a'), 0o640);
    return { lower, upper, view: new FileView(lower, upper) };
  };
  const names = (view: FileView, g: string): string[] => view.readdir(g).map((e) => e.name).sort();

  it('copies a file up on its first write, keeping its mode; the real file is untouched', () => {
    const { lower, upper, view } = setup();
    const h = view.writePath('/d/a', true);
    expect(h).toBe(join(upper, 'd/a'));
    fs.appendFileSync(h, '+');
    expect(fs.readFileSync(join(lower, 'd/a'), 'utf8')).toBe('a');
    expect(fs.readFileSync(view.readPath('/d/a') as string, 'utf8')).toBe('a+');
    expect(fs.statSync(h).mode & 0o777).toBe(0o640);
  });
  it('unlink leaves a whiteout; a file made there again shows and the whiteout goes', () => {
    const { upper, view } = setup();
    view.unlink('/d/a');
    expect(view.readPath('/d/a')).toBe(ENOENT);
    expect(fs.existsSync(join(upper, 'd/.wh.a'))).toBe(true);
    expect(names(view, '/d')).toEqual(['sub']);
    fs.writeFileSync(view.writePath('/d/a', false), 'new');
    view.created('/d/a');
    expect(fs.existsSync(join(upper, 'd/.wh.a'))).toBe(false);
    expect(names(view, '/d')).toEqual(['a', 'sub']);
    expect(() => view.unlink('/d/nothing')).toThrow(expect.objectContaining({ errno: ENOENT }));
  });
  it('rmdir needs the merged directory empty; a directory made again is opaque', () => {
    const { upper, view } = setup();
    expect(() => view.rmdir('/d/sub')).toThrow(expect.objectContaining({ errno: -39 })); // ENOTEMPTY
    view.unlink('/d/sub/s');
    view.rmdir('/d/sub');
    expect(view.readPath('/d/sub/s')).toBe(ENOENT);
    view.mkdir('/d/sub', 0o755);
    expect(fs.existsSync(join(upper, 'd/sub/.wh..wh..opq'))).toBe(true);
    expect(names(view, '/d/sub')).toEqual([]);
    expect(view.readPath('/d/sub/s')).toBe(ENOENT);
    expect(() => view.mkdir('/d/sub', 0o755)).toThrow(expect.objectContaining({ errno: -17 })); // EEXIST
  });
  it('rename of a real file: copied up, moved, the old name whited out; a real directory is EXDEV', () => {
    const { lower, view } = setup();
    view.rename('/d/a', '/d/b');
    expect(view.readPath('/d/a')).toBe(ENOENT);
    expect(fs.readFileSync(view.readPath('/d/b') as string, 'utf8')).toBe('a');
    expect(fs.existsSync(join(lower, 'd/a'))).toBe(true);
    expect(names(view, '/d')).toEqual(['b', 'sub']);
    expect(() => view.rename('/d/sub', '/d/moved')).toThrow(expect.objectContaining({ errno: -18 }));
  });
  it('a symlink made in the overlay resolves through the merged view', () => {
    const { view } = setup();
    view.symlink('sub/s', '/d/link');
    const g = view.resolve('/', '/d/link', true);
    expect(g).toBe('/d/sub/s');
    view.unlink('/d/sub/s');
    expect(view.readPath(view.resolve('/', '/d/link', true) as string)).toBe(ENOENT);
  });
});
