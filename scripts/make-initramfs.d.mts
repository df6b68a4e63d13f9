// Types of make-initramfs.mjs's exports, for the TypeScript that imports them (tests, bench).
/** The cpio "newc" archive of directory `dir`, plus character devices given as PATH:c:MAJOR:MINOR. */
export function makeCpio(dir: string, devices?: string[]): Buffer;
/** The gzipped initramfs of a busybox-only userspace: /bin/busybox, `init` as /init, /dev/console. */
export function busyboxInitramfs(busybox: string, init: string): Buffer;
