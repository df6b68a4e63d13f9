// A VM's serial console as the host keeps it: the last bytes the guest wrote (so that a client attaching
// late sees the recent screen, as `virsh console` does not but a log does), and the clients following it.

/** Bytes of history kept per VM. */
export const CONSOLE_HISTORY = 256 << 10;

export class ConsoleLog {
  private ring = new Uint8Array(CONSOLE_HISTORY);
  private start = 0;
  private length = 0;
  /** Every byte the guest wrote, including those the ring no longer holds. */
  total = 0;
  private readonly followers = new Set<(bytes: Uint8Array | null) => void>();

  append(bytes: Uint8Array): void {
    this.total += bytes.length;
    for (const f of this.followers) f(bytes);
    const src = bytes.length > CONSOLE_HISTORY ? bytes.subarray(bytes.length - CONSOLE_HISTORY) : bytes;
    for (let i = 0; i < src.length; i++) {
      const at = (this.start + this.length) % CONSOLE_HISTORY;
      this.ring[at] = src[i];
      if (this.length < CONSOLE_HISTORY) this.length++;
      else this.start = (this.start + 1) % CONSOLE_HISTORY;
    }
  }

  /** The history, oldest byte first. */
  history(): Uint8Array {
    const out = new Uint8Array(this.length);
    const first = Math.min(this.length, CONSOLE_HISTORY - this.start);
    out.set(this.ring.subarray(this.start, this.start + first));
    out.set(this.ring.subarray(0, this.length - first), first);
    return out;
  }

  /** Call `f` with every byte written from now on, and with null when the log closes; returns an unsubscribe. */
  follow(f: (bytes: Uint8Array | null) => void): () => void {
    this.followers.add(f);
    return () => this.followers.delete(f);
  }

  /** The run's output is over (its guest stopped, or the VM was deleted or left the host): followers get null. The log stays; a later run appends to it. */
  close(): void {
    for (const f of this.followers) f(null);
    this.followers.clear();
  }
}
