// VM exits, KVM-style: the privileged or device-facing events that leave guest execution for the
// hypervisor, which emulates them and resumes. Each has a counter and the host time spent handling it
// (kvm_stat's view), shared by both engines and returned by the API.

/** Exit reasons, modelled on KVM's exit_reason values. */
export const EXIT_REASONS = [
  'IO', 'MMIO', 'HLT', 'HYPERCALL', 'CPUID', 'MSR_READ', 'MSR_WRITE', 'CR_ACCESS', 'DT_LOAD', 'INVLPG',
  'SOFT_INT', 'EXCEPTION', 'IRQ_WINDOW', 'SHUTDOWN', 'DEBUG_EXIT', 'RESET',
] as const;
export type ExitReasonName = (typeof EXIT_REASONS)[number];

export const EXIT_IO = 0, EXIT_MMIO = 1, EXIT_HLT = 2, EXIT_HYPERCALL = 3, EXIT_CPUID = 4, EXIT_MSR_READ = 5,
  EXIT_MSR_WRITE = 6, EXIT_CR_ACCESS = 7, EXIT_DT_LOAD = 8, EXIT_INVLPG = 9, EXIT_SOFT_INT = 10, EXIT_EXCEPTION = 11,
  EXIT_IRQ_WINDOW = 12, EXIT_SHUTDOWN = 13, EXIT_DEBUG_EXIT = 14, EXIT_RESET = 15;

export interface ExitCounter { reason: ExitReasonName; count: number; seconds: number }

export class ExitStats {
  readonly counts = new Float64Array(EXIT_REASONS.length);
  readonly ms = new Float64Array(EXIT_REASONS.length);

  /** Count an exit whose handling is too cheap to time. */
  count(reason: number): void { this.counts[reason]++; }

  /** Start timing an exit's handling: pass the result to leave(). */
  enter(): number { return performance.now(); }
  /** `counted` false: more time for an exit counted before (a HLT whose wait went on in the next slice). */
  leave(reason: number, t0: number, counted = true): void {
    if (counted) this.counts[reason]++;
    this.ms[reason] += performance.now() - t0;
  }

  /** Every reason with a non-zero count, in EXIT_REASONS order. */
  snapshot(): ExitCounter[] {
    const out: ExitCounter[] = [];
    EXIT_REASONS.forEach((reason, i) => { if (this.counts[i] > 0) out.push({ reason, count: this.counts[i], seconds: this.ms[i] / 1000 }); });
    return out;
  }

  reset(): void { this.counts.fill(0); this.ms.fill(0); }
}

/** kvm_stat-like table lines: reason, count, per-second rate over `seconds`, time spent handling. */
export function formatExitStats(stats: ExitCounter[], seconds: number): string[] {
  const total = stats.reduce((a, s) => a + s.count, 0);
  const lines = [` ${'exit reason'.padEnd(12)} ${'count'.padStart(12)} ${'per second'.padStart(12)} ${'handling'.padStart(11)}`];
  for (const s of [...stats].sort((a, b) => b.count - a.count)) {
    lines.push(` ${s.reason.padEnd(12)} ${String(s.count).padStart(12)} ${(s.count / seconds).toFixed(0).padStart(12)} ${`${(s.seconds * 1000).toFixed(1)} ms`.padStart(11)}`);
  }
  lines.push(` ${'total'.padEnd(12)} ${String(total).padStart(12)} ${(total / seconds).toFixed(0).padStart(12)}`);
  return lines;
}
