// A tiny event emitter of our own (the core runs in browsers too: no node:events): VM.on/off.

export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, ((value: never) => void)[]>();

  on<K extends keyof Events>(event: K, fn: (value: Events[K]) => void): void {
    const list = this.listeners.get(event) ?? [];
    list.push(fn as (value: never) => void);
    this.listeners.set(event, list);
  }

  off<K extends keyof Events>(event: K, fn: (value: Events[K]) => void): void {
    const list = this.listeners.get(event);
    const i = list?.indexOf(fn as (value: never) => void) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  /** Has `event` a listener? (Callers skip building a value nobody reads.) */
  has(event: keyof Events): boolean { return (this.listeners.get(event)?.length ?? 0) > 0; }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const list = this.listeners.get(event);
    if (list !== undefined) for (const fn of [...list]) (fn as (v: Events[K]) => void)(value);
  }

  clear(): void { this.listeners.clear(); }
}
