// Letting the event loop run between two slices of a guest (a debugger's socket, a Ctrl-C): a message to
// ourselves on a MessageChannel runs after pending I/O like Node's setImmediate, and exists in browsers too
// (setTimeout(0) would wait ~1 ms per slice in Node, 4 ms in a browser once nested).
export function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => { port1.close(); resolve(); };
    port2.postMessage(null);
  });
}
