// The one error snapshot reading and writing throw. Its message is one line a user can act on and names
// what is wrong, e.g.
//   "snapshot is truncated (file has 1234 bytes, header says 5678)"
//   "snapshot section CPU0 has version 4; this x86jit reads up to 2"
// so that a CLI can print it as it is, without a stack trace. Nothing else escapes decodeSnapshot():
// errors from zlib, DataView or JSON are turned into this.

/** A snapshot that cannot be read (or written), with a one-line reason. */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
}
