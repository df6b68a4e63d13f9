#!/usr/bin/env node
// Writes an initramfs (cpio "newc", gzip) from a directory tree — what the kernel unpacks into its rootfs
// (Documentation/driver-api/early-userspace/buffer-format.rst). No root needed: every entry is owned by
// root (uid/gid 0) whoever runs this, and device nodes are listed by name in --dev (a directory cannot
// hold them without root). Symlinks stay symlinks; hard links are stored as separate files.
// Usage: node scripts/make-initramfs.mjs DIR -o OUT.gz [--dev console:c:5:1 --dev ttyS0:c:4:64 ...]
import { chmodSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000, S_IFCHR = 0o020000;

/** One cpio newc entry: the 110-byte ASCII header, the name (NUL-terminated), the data; each padded to 4. */
function entry(name, mode, data, ino, rdevMajor = 0, rdevMinor = 0, mtime = 0) {
  const hex = (v) => (v >>> 0).toString(16).padStart(8, '0');
  const nameBytes = Buffer.from(name + '\0');
  const header = '070701' + [ino, mode, 0, 0, 1, mtime, data.length, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0].map(hex).join('');
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  const head = Buffer.concat([Buffer.from(header, 'ascii'), nameBytes]);
  return Buffer.concat([head, pad(head.length), data, pad(data.length)]);
}

export function makeCpio(dir, devices = []) {
  const parts = [];
  let ino = 1;
  const walk = (rel) => {
    const abs = join(dir, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      const perm = st.mode & 0o7777;
      if (st.isDirectory()) { parts.push(entry(r, S_IFDIR | perm, Buffer.alloc(0), ino++)); walk(r); }
      else if (st.isSymbolicLink()) parts.push(entry(r, S_IFLNK | 0o777, Buffer.from(readlinkSync(join(dir, r))), ino++));
      else if (st.isFile()) parts.push(entry(r, S_IFREG | perm, readFileSync(join(dir, r)), ino++));
      else throw new Error(`make-initramfs: ${r}: not a file, directory or symlink`);
    }
  };
  walk('');
  for (const d of devices) {
    const m = /^([^:]+):c:(\d+):(\d+)$/.exec(d);
    if (!m) throw new Error(`make-initramfs: --dev ${d}: expected PATH:c:MAJOR:MINOR`);
    parts.push(entry(m[1], S_IFCHR | 0o600, Buffer.alloc(0), ino++, Number(m[2]), Number(m[3])));
  }
  parts.push(entry('TRAILER!!!', 0, Buffer.alloc(0), 0));
  return Buffer.concat(parts);
}

/**
 * The gzipped initramfs of a busybox-only userspace: /bin/busybox, `init` as /init (made executable whatever
 * mode the checkout gave it), empty /dev, /proc, /sys, and /dev/console. What tests/linux-boot.test.ts and
 * bench/linux-boot.ts boot.
 */
export function busyboxInitramfs(busybox, init) {
  const tree = mkdtempSync(join(tmpdir(), 'x86jit-initramfs-'));
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys']) mkdirSync(join(tree, d));
    copyFileSync(busybox, join(tree, 'bin', 'busybox'));
    copyFileSync(init, join(tree, 'init'));
    chmodSync(join(tree, 'init'), 0o755);
    return gzipSync(makeCpio(tree, ['dev/console:c:5:1']));
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

// Run as a program (not when imported, nor when bundled into another program: bench/linux-boot.ts).
if (process.argv[1]?.endsWith('make-initramfs.mjs') && import.meta.url === `file://${process.argv[1]}`) {
  try {
    const { values, positionals } = parseArgs({ allowPositionals: true, options: { output: { type: 'string', short: 'o' }, dev: { type: 'string', multiple: true } } });
    if (positionals.length !== 1 || !values.output) throw new Error('usage: make-initramfs.mjs DIR -o OUT.gz [--dev PATH:c:MAJOR:MINOR ...]');
    writeFileSync(values.output, gzipSync(makeCpio(positionals[0], values.dev ?? []), { level: 9 }));
  } catch (e) {
    console.error(e.message.startsWith('make-initramfs') || e.message.startsWith('usage') ? e.message : `make-initramfs: ${e.message}`);
    process.exit(2);
  }
}
