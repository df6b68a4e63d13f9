// GET /metrics: the host's and every VM's counters in Prometheus' text exposition format (version 0.0.4).
import type { Host } from './host.ts';

/** A label value with \, " and newline escaped as the format asks. */
const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function prometheusText(host: Host, requests: ReadonlyMap<number, number>): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) out.push(`${name}${labels} ${Number.isFinite(v) ? v : 0}`);
  };
  const vms = host.ids().map((id) => host.info(id));
  const h = host.hostInfo();
  family('x86jit_host_cpus', 'gauge', 'Cores the VMs share.', [['', h.cpus]]);
  family('x86jit_host_memory_bytes', 'gauge', 'Guest RAM the host may give out.', [['', h.memory]]);
  family('x86jit_host_memory_used_bytes', 'gauge', 'Guest RAM of the VMs that hold memory now.', [['', h.memoryUsed]]);
  family('x86jit_host_worker_deaths_total', 'counter', 'VM workers that ended unexpectedly.', [['', h.workerDeaths]]);
  family('x86jit_api_requests_total', 'counter', 'API requests answered, by HTTP status.', [...requests].sort((a, b) => a[0] - b[0]).map(([code, n]) => [`{code="${code}"}`, n]));
  family('x86jit_vm_state', 'gauge', 'The VM\'s state (1 for the state it is in).',
    vms.flatMap((v) => (['created', 'running', 'paused', 'stopped'] as const).map((s): [string, number] => [`{vm="${label(v.id)}",state="${s}"}`, v.state === s ? 1 : 0])));
  family('x86jit_vm_instructions_total', 'counter', 'Instructions the guest retired.', vms.map((v) => [`{vm="${label(v.id)}"}`, v.instructions]));
  family('x86jit_vm_cpu_seconds_total', 'counter', 'CPU time the VM\'s slices took.', vms.map((v) => [`{vm="${label(v.id)}"}`, v.cpuSeconds]));
  family('x86jit_vm_mips', 'gauge', 'Millions of instructions per second over the last second.', vms.map((v) => [`{vm="${label(v.id)}"}`, v.mips]));
  family('x86jit_vm_memory_bytes', 'gauge', 'The VM\'s guest RAM.', vms.map((v) => [`{vm="${label(v.id)}"}`, v.memory]));
  family('x86jit_vm_console_bytes_total', 'counter', 'Bytes the guest wrote to its console.', vms.map((v) => [`{vm="${label(v.id)}"}`, v.consoleBytes]));
  family('x86jit_vm_exits_total', 'counter', 'VM exits, by reason.',
    vms.flatMap((v) => Object.entries(v.exits).map(([reason, n]): [string, number] => [`{vm="${label(v.id)}",reason="${label(reason)}"}`, n])));
  return `${out.join('\n')}\n`;
}
