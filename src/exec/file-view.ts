// The file system a process sees. Three ways:
// - plain (no --root, no --overlay): guest paths are host paths, the host kernel resolves them;
// - --root DIR: guest paths live inside DIR, resolved here (guest-path.ts) so nothing outside is reachable;
// - --overlay DIR: a writable layer over the real tree (DIR, or the host's /), in the manner of
//   overlayfs/aufs: reads see the overlay's file where it has one, else the real one; every change
//   (write, create, rename, delete, mkdir/rmdir, truncate, chmod, utimes) goes to the overlay, copying a
//   file up on its first write. A deletion leaves a whiteout: an empty file `.wh.NAME` beside where NAME
//   would be in the overlay (aufs's convention; overlayfs's 0/0 character devices need root). A directory
//   made where a deleted one was holds `.wh..wh..opq`: nothing of the real tree shows through it.
// Everything here takes canonical guest paths (from resolve()) and answers host paths or -errno.
import * as fs from 'node:fs';
import { dirname, basename, join, resolve as hostResolve } from 'node:path';
import { EEXIST, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY, EXDEV, hostErrno } from './files.ts';
import { type GuestEntry, resolveGuestPath } from './guest-path.ts';

export const WHITEOUT_PREFIX = '.wh.', OPAQUE_MARKER = '.wh..wh..opq';

/** A directory entry as getdents64 reports it. */
export interface DirEntry { name: string; type: number; ino: bigint }

const lexists = (path: string): boolean => { try { fs.lstatSync(path); return true; } catch { return false; } };
const lstatOrNull = (path: string): fs.Stats | null => { try { return fs.lstatSync(path); } catch { return null; } };
const errno = (n: number): Error => Object.assign(new Error(`errno ${n}`), { errno: -n });

const DT: Array<[keyof fs.Dirent, number]> = [['isFIFO', 1], ['isCharacterDevice', 2], ['isDirectory', 4], ['isBlockDevice', 6], ['isFile', 8], ['isSymbolicLink', 10], ['isSocket', 12]];
const direntType = (d: fs.Dirent): number => DT.find(([m]) => (d[m] as () => boolean).call(d))?.[1] ?? 0;

export class FileView {
  /** Absolute host directories; null: none. */
  readonly root: string | null;
  readonly overlay: string | null;

  constructor(root: string | null = null, overlay: string | null = null) {
    this.root = root === null ? null : hostResolve(root);
    this.overlay = overlay === null ? null : hostResolve(overlay);
  }

  /** Guest paths are host paths, resolved by the host. */
  get plain(): boolean { return this.root === null && this.overlay === null; }

  /** The real (lower) file for a guest path. */
  lower(g: string): string { return this.root === null ? g : join(this.root, g); }
  /** Where a guest path's copy lives in the overlay. */
  private upper(g: string): string { return join(this.overlay!, g); }

  /** A guest path, canonical: see resolveGuestPath. Plain: the host resolves symlinks later. */
  resolve(base: string, path: string, followLast: boolean): string | number {
    if (this.plain) return path === '' ? -ENOENT : hostResolve(base, path);
    return resolveGuestPath((g) => this.entry(g), base, path, followLast);
  }

  private entry(g: string): GuestEntry {
    const h = this.host(g);
    const st = h === null ? null : lstatOrNull(h);
    if (st === null) return null;
    if (st.isSymbolicLink()) { try { return { kind: 'link', target: fs.readlinkSync(h!) }; } catch { return null; } }
    return st.isDirectory() ? { kind: 'dir' } : { kind: 'file' };
  }

  /** Whether the overlay hides the real file at `g`: a whiteout of it or of an ancestor, or an opaque ancestor. */
  private hidden(g: string): boolean {
    for (let a = g; a !== '/'; a = dirname(a)) {
      if (lexists(join(this.upper(dirname(a)), WHITEOUT_PREFIX + basename(a)))) return true;
      if (a !== g && lexists(join(this.upper(a), OPAQUE_MARKER))) return true;
    }
    return false;
  }

  /** Whether the real tree's file at `g` shows (exists and is not hidden by the overlay). */
  private lowerVisible(g: string): boolean {
    return lexists(this.lower(g)) && (this.overlay === null || !this.hidden(g));
  }

  /** The host file a guest path names now, or null if there is none. */
  host(g: string): string | null {
    if (this.plain) return g;
    if (this.overlay !== null && lexists(this.upper(g))) return this.upper(g);
    return this.lowerVisible(g) ? this.lower(g) : null;
  }

  /** The host path to read `g` through (for open, stat, readlink, access): ENOENT if it does not exist. */
  readPath(g: string): string | number { return this.host(g) ?? -ENOENT; }

  /**
   * The host path to change `g` through. With an overlay: its parent directories are made in the overlay,
   * and with `copyUp` an existing real file is first copied there (contents, mode, times); a whiteout of
   * `g` is removed only once the caller has created the file (see created()).
   */
  writePath(g: string, copyUp: boolean): string {
    if (this.overlay === null) return this.lower(g);
    this.makeParents(g);
    const up = this.upper(g);
    if (copyUp && !lexists(up) && this.lowerVisible(g)) this.copyUp(g);
    return up;
  }

  /** After a file was created at writePath(g): the overlay shows it, not a deleted real one. */
  created(g: string): void {
    if (this.overlay === null) return;
    const wh = join(this.upper(dirname(g)), WHITEOUT_PREFIX + basename(g));
    if (!lexists(wh)) return;
    fs.unlinkSync(wh);
    // A directory made where a real one was deleted: the old one's entries stay deleted.
    if (fs.lstatSync(this.upper(g)).isDirectory()) fs.writeFileSync(join(this.upper(g), OPAQUE_MARKER), '');
  }

  private makeParents(g: string): void {
    const parts = dirname(g).split('/').filter((c) => c !== '');
    let a = '';
    for (const c of parts) {
      a += `/${c}`;
      if (lexists(this.upper(a))) continue;
      const real = lstatOrNull(this.lower(a));
      fs.mkdirSync(this.upper(a), { mode: real?.isDirectory() ? real.mode & 0o7777 : 0o755 });
    }
  }

  private copyUp(g: string): void {
    const from = this.lower(g), to = this.upper(g), st = fs.lstatSync(from);
    if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
    else if (st.isDirectory()) fs.mkdirSync(to, { mode: st.mode & 0o7777 });
    else { fs.copyFileSync(from, to); fs.chmodSync(to, st.mode & 0o7777); }
    if (!st.isSymbolicLink()) fs.utimesSync(to, st.atime, st.mtime);
  }

  /** Leave a whiteout for `g` if a real file shows there (after its overlay copy, if any, is gone). */
  private whiteOut(g: string): void {
    if (!this.lowerVisible(g)) return;
    this.makeParents(g);
    fs.writeFileSync(join(this.upper(dirname(g)), WHITEOUT_PREFIX + basename(g)), '');
  }

  /** unlink(2); throws an errno error as Node's fs does. */
  unlink(g: string): void {
    if (this.overlay === null) {
      // unlink(2) of a directory is EISDIR on Linux; Node's unlinkSync says EPERM on some systems.
      if (lstatOrNull(this.lower(g))?.isDirectory()) throw errno(EISDIR);
      fs.unlinkSync(this.lower(g));
      return;
    }
    const h = this.host(g);
    if (h === null) throw errno(ENOENT);
    if (fs.lstatSync(h).isDirectory()) throw errno(EISDIR);
    if (lexists(this.upper(g))) fs.unlinkSync(this.upper(g));
    this.whiteOut(g);
  }

  rmdir(g: string): void {
    if (this.overlay === null) { fs.rmdirSync(this.lower(g)); return; }
    const h = this.host(g);
    if (h === null) throw errno(ENOENT);
    if (!fs.lstatSync(h).isDirectory()) throw errno(ENOTDIR);
    if (g === '/') throw errno(16); // EBUSY
    if (this.readdir(g).length > 0) throw errno(ENOTEMPTY);
    if (lexists(this.upper(g))) fs.rmSync(this.upper(g), { recursive: true }); // whiteouts and markers only
    this.whiteOut(g);
  }

  mkdir(g: string, mode: number): void {
    if (this.overlay === null) { fs.mkdirSync(this.lower(g), { mode }); return; }
    if (this.host(g) !== null) throw errno(EEXIST);
    fs.mkdirSync(this.writePath(g, false), { mode });
    this.created(g);
  }

  symlink(target: string, g: string): void {
    if (this.overlay === null) { fs.symlinkSync(target, this.lower(g)); return; }
    if (this.host(g) !== null) throw errno(EEXIST);
    fs.symlinkSync(target, this.writePath(g, false));
    this.created(g);
  }

  rename(from: string, to: string): void {
    if (this.overlay === null) { fs.renameSync(this.lower(from), this.lower(to)); return; }
    const a = this.host(from);
    if (a === null) throw errno(ENOENT);
    if (from === to) return;
    const st = fs.lstatSync(a), dst = this.host(to), dstSt = dst === null ? null : fs.lstatSync(dst);
    // As overlayfs without redirect_dir: a directory of the real tree cannot move (mv then copies it).
    if (st.isDirectory() && this.lowerVisible(from)) throw errno(EXDEV);
    if (dstSt !== null) {
      if (dstSt.isDirectory() && !st.isDirectory()) throw errno(EISDIR);
      if (!dstSt.isDirectory() && st.isDirectory()) throw errno(ENOTDIR);
      if (dstSt.isDirectory() && this.readdir(to).length > 0) throw errno(ENOTEMPTY);
    }
    const up = this.writePath(from, true);
    const target = this.writePath(to, false);
    if (dstSt?.isDirectory() && lexists(target)) fs.rmSync(target, { recursive: true });
    fs.renameSync(up, target);
    this.created(to);
    this.whiteOut(from);
  }

  /** The entries of directory `g` (without . and ..): the overlay's over the real ones, whiteouts applied. */
  readdir(g: string): DirEntry[] {
    const h = this.host(g);
    if (h === null) throw errno(ENOENT);
    const list = (dir: string): fs.Dirent[] => fs.readdirSync(dir, { withFileTypes: true });
    const ino = (path: string): bigint => { try { return fs.lstatSync(path, { bigint: true }).ino; } catch { return 0n; } };
    if (this.overlay === null) return list(h).map((d) => ({ name: d.name, type: direntType(d), ino: ino(join(h, d.name)) }));
    const out = new Map<string, DirEntry>();
    const hidden = new Set<string>();
    const up = this.upper(g);
    let opaque = false;
    if (lexists(up) && fs.lstatSync(up).isDirectory()) {
      for (const d of list(up)) {
        if (d.name === OPAQUE_MARKER) { opaque = true; continue; }
        if (d.name.startsWith(WHITEOUT_PREFIX)) { hidden.add(d.name.slice(WHITEOUT_PREFIX.length)); continue; }
        out.set(d.name, { name: d.name, type: direntType(d), ino: ino(join(up, d.name)) });
      }
    }
    if (!opaque && this.lowerVisible(g) && fs.lstatSync(this.lower(g)).isDirectory()) {
      for (const d of list(this.lower(g))) {
        if (!out.has(d.name) && !hidden.has(d.name)) out.set(d.name, { name: d.name, type: direntType(d), ino: ino(join(this.lower(g), d.name)) });
      }
    }
    return [...out.values()];
  }
}

/** An fs call on view paths as a syscall result: 0 or -errno. */
export function viewCall(fn: () => unknown): number {
  try { fn(); return 0; } catch (e) { return hostErrno(e); }
}
