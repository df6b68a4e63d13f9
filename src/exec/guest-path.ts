// Resolving a guest path as the kernel's namei does, but inside a root the program cannot leave
// (`x86jit exec --root`): component by component, `..` at the root stays at the root, and every symlink
// is read and followed here — an absolute target starts again at the root, a relative one at the link's
// directory — so no path, however built, names a file outside. The file system is seen only through
// `lookup`, so the same walk serves a plain directory and the overlay's merged view.
import { ELOOP, ENOENT, ENOTDIR } from './files.ts';

/** What is at a guest path: a directory, a symlink (with its target) or another file; null: nothing. */
export type GuestEntry = { kind: 'dir' } | { kind: 'link'; target: string } | { kind: 'file' } | null;

/** Symlinks followed in one resolution before it fails with ELOOP (the kernel's MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;

/**
 * The canonical absolute guest path (no `.`, `..` or symlink in it) that `path` names, relative to the
 * guest directory `base` (itself canonical), or -errno: ENOENT, ENOTDIR, ELOOP. The last component is
 * followed if it is a symlink only when `followLast` (or the path ends in '/'); a missing last component
 * is no error (the caller may be creating it).
 */
export function resolveGuestPath(lookup: (guestPath: string) => GuestEntry, base: string, path: string, followLast: boolean): string | number {
  if (path === '') return -ENOENT;
  const trailingSlash = path.endsWith('/');
  let dir = path.startsWith('/') ? [] : base.split('/').filter((c) => c !== '');
  let todo = path.split('/').filter((c) => c !== '');
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    const last = todo.length === 0;
    if (name === '.') continue;
    if (name === '..') { dir.pop(); continue; }
    const here = `/${[...dir, name].join('/')}`;
    const e = lookup(here);
    if (e === null) {
      if (!last) return -ENOENT;
      dir.push(name);
      break;
    }
    if (e.kind === 'link' && (!last || followLast || trailingSlash)) {
      if (++links > MAX_SYMLINKS) return -ELOOP;
      if (e.target === '') return -ENOENT;
      if (e.target.startsWith('/')) dir = [];
      todo = [...e.target.split('/').filter((c) => c !== ''), ...todo];
      continue;
    }
    if ((!last || trailingSlash) && e.kind !== 'dir') return -ENOTDIR;
    dir.push(name);
  }
  return `/${dir.join('/')}`;
}
