// `x86jit run ROM --gdb tcp:HOST:PORT [--wait]`: the gdb remote stub (src/debug/gdb-remote.ts) on a TCP
// port, as QEMU's `-gdb tcp::PORT` (`-s`) and `-S`. Without --wait the guest starts at once and a debugger
// may attach at any time (the guest stops when it does); with --wait it starts only when gdb says
// `continue`. One debugger at a time; when it detaches or goes away, the guest runs on to its end.
import { createServer, type Socket } from 'node:net';
import { GdbSession, type GdbSessionEnd } from '../debug/gdb-remote.ts';
import type { VM } from '../node.ts';
import { EXIT_STATUS } from './exit-status.ts';
import { emit } from './output.ts';
import { UsageError } from './parse.ts';

export async function debugGuest(vm: VM, address: { host: string; port: number }, opts: { wait: boolean; maxInstructions?: number }): Promise<GdbSessionEnd> {
  const session = new GdbSession(vm, null, {
    maxInstructions: opts.maxInstructions,
    // gdb's `W` byte: the process's own exit status, as `x86jit run` would end.
    exitStatus: (exit) => (exit.reason === 'debug-exit' ? (exit.status ?? 1) : EXIT_STATUS[exit.reason] ?? 0) & 0xff,
  });
  let client: Socket | null = null;
  const server = createServer((socket) => {
    if (client !== null) { socket.end(); return; } // one debugger at a time
    client = socket;
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    session.attach((data) => { if (!socket.destroyed) socket.write(data, 'latin1'); });
    socket.on('data', (data: string) => session.receive(data));
    const gone = (): void => { if (client === socket) { client = null; session.detach(); } };
    socket.on('close', gone);
    socket.on('error', gone);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new UsageError(`--gdb: cannot listen on tcp:${address.host}:${address.port}: ${e.code === 'EADDRINUSE' ? 'address in use' : e.message}`)));
    server.listen(address.port, address.host, () => resolve());
  });
  if (opts.wait) {
    // The port actually bound (tcp:HOST:0 lets the system choose one): where to point gdb.
    const bound = server.address();
    emit(2, `x86jit: waiting for gdb on tcp:${address.host}:${typeof bound === 'object' && bound !== null ? bound.port : address.port}\n`);
  } else void session.resume(false);
  try {
    return await session.done;
  } finally {
    // Let gdb read the exit packet, then close.
    const c = client as Socket | null;
    if (c !== null) await new Promise<void>((r) => { c.end(() => r()); setTimeout(r, 200).unref(); });
    server.close();
  }
}
