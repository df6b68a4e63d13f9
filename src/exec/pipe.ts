// A pipe between guest file descriptors (pipe/pipe2): a 64 KiB buffer as Linux's default, counted read and
// write ends. Reading an empty pipe whose write ends are all closed is end of file; writing one with no
// read end is EPIPE (and SIGPIPE). Where Linux would block (empty with writers, full with readers), the
// caller is told to wait: the scheduler runs the other processes and the call is made again.

export const PIPE_CAPACITY = 65536;
/** Writes up to this size are atomic (not split between readers' views). */
export const PIPE_BUF = 4096;

export class Pipe {
  private chunks: Uint8Array[] = [];
  /** Bytes buffered. */
  size = 0;
  readers = 0;
  writers = 0;

  /** Up to `max` bytes, or 'wait' (empty, a writer may still write), or an empty array (end of file). */
  read(max: number): Uint8Array | 'wait' {
    if (this.size === 0) return this.writers > 0 ? 'wait' : new Uint8Array(0);
    const out = new Uint8Array(Math.min(max, this.size));
    let at = 0;
    while (at < out.length) {
      const c = this.chunks[0];
      const n = Math.min(c.length, out.length - at);
      out.set(c.subarray(0, n), at);
      at += n;
      if (n === c.length) this.chunks.shift(); else this.chunks[0] = c.subarray(n);
    }
    this.size -= out.length;
    return out;
  }

  /** Bytes accepted now (a short count when the buffer fills), 'wait' (full), or 'broken' (no reader: EPIPE). */
  write(bytes: Uint8Array): number | 'wait' | 'broken' {
    if (this.readers === 0) return 'broken';
    const room = PIPE_CAPACITY - this.size;
    if (bytes.length === 0) return 0;
    // A small write goes in whole or waits (atomicity); a large one takes what fits.
    if (room === 0 || (bytes.length <= PIPE_BUF && room < bytes.length)) return 'wait';
    const n = Math.min(room, bytes.length);
    this.chunks.push(bytes.slice(0, n));
    this.size += n;
    return n;
  }

  /** poll: data or end of file to read. */
  get readable(): boolean { return this.size > 0 || this.writers === 0; }
  /** poll: room to write (or no reader: the write fails at once). */
  get writable(): boolean { return this.readers === 0 || PIPE_CAPACITY - this.size >= PIPE_BUF; }
}
