// Watches a byte stream for one byte string (Knuth–Morris–Pratt, so overlapping starts such as "aab" in
// "aaab" are found): VM.stopAtOutput uses it on COM1's bytes as the guest writes them, one at a time,
// so a run can stop at the exact instruction that completed a prompt.

export class OutputMatch {
  private readonly fail: Int32Array;
  private matched = 0;

  constructor(private readonly pattern: Uint8Array) {
    if (pattern.length === 0) throw new RangeError('the output to wait for is empty');
    // fail[i]: the length of the longest proper prefix of pattern[0..i] that is also its suffix.
    this.fail = new Int32Array(pattern.length);
    for (let i = 1, k = 0; i < pattern.length; i++) {
      while (k > 0 && pattern[i] !== pattern[k]) k = this.fail[k - 1];
      if (pattern[i] === pattern[k]) k++;
      this.fail[i] = k;
    }
  }

  /** Feed one byte; true when it completes the pattern. */
  push(byte: number): boolean {
    let k = this.matched;
    while (k > 0 && byte !== this.pattern[k]) k = this.fail[k - 1];
    if (byte === this.pattern[k]) k++;
    if (k === this.pattern.length) { this.matched = this.fail[k - 1]; return true; }
    this.matched = k;
    return false;
  }
}
