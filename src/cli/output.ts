// The CLI's writes to stdout and stderr. They are synchronous (write(2)), so guest output never piles up
// in memory behind a slow reader. A write that fails is remembered and nothing more is written to that
// stream: a reader that went away (EPIPE: `x86jit run ROM | head`) ends the output quietly, as the end of
// a pipeline should; any other failure (a full disk) is reported once, in one line, when the command ends
// (main.ts, status 74).
import { writeSync } from 'node:fs';

/** write(2) all of `bytes`, retrying when a non-blocking pipe is full. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try { off += writeSync(fd, bytes, off, bytes.length - off); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

/** The first failed write on stdout (1) and stderr (2). */
const failures = new Map<number, NodeJS.ErrnoException>();

/** Write to stdout (1) or stderr (2); false when the write failed now or an earlier one did (nothing is written then). */
export function emit(fd: 1 | 2, data: string | Uint8Array): boolean {
  if (failures.has(fd)) return false;
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
    return true;
  } catch (e) {
    failures.set(fd, e as NodeJS.ErrnoException);
    return false;
  }
}

/** The first write failure other than a reader that went away, as one line (undefined when none). */
export function outputError(): string | undefined {
  for (const [fd, e] of failures) {
    if (e.code === 'EPIPE') continue;
    // "ENOSPC: no space left on device, write" -> "no space left on device"
    const reason = /^[A-Z0-9]+: (.*?)(, write)?$/.exec(e.message ?? '')?.[1] ?? e.code ?? String(e);
    return `cannot write to ${fd === 1 ? 'stdout' : 'stderr'}: ${reason}`;
  }
  return undefined;
}

/** Whether a write to stdout or stderr has failed. */
export function outputFailed(): boolean { return failures.size > 0; }
