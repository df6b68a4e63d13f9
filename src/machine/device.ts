// What the board asks of a device: the port accesses the I/O bus decodes to it, when it will next raise an
// interrupt, and its complete state as plain data described by a schema (device-state.ts). Devices know
// nothing of the CPU or the VM; the board (board.ts) wires them to ports and IRQ lines.
import type { PortDevice } from './io-bus.ts';
import type { PlainState, StateSchema } from './device-state.ts';

export interface Device {
  /** Version of the saved state's layout: bump it when the schema changes (a snapshot with a newer one is refused). */
  readonly stateVersion: number;
  /** The fields save() returns and load() takes (device-state.ts checks a loaded state against it first). */
  readonly stateSchema: StateSchema;
  /** Everything a guest could observe, as plain data; no host resources, no callbacks. */
  save(): PlainState;
  /**
   * How states saved with older layout versions become this one, oldest first: a snapshot made before a
   * layout change still loads (a version with no upgrade, or a newer one, is refused).
   */
  readonly stateUpgrades?: readonly StateUpgrade[];
  /** Take a saved state that fits stateSchema; throws StateError if its values are inconsistent. Raises no IRQ. */
  load(state: PlainState): void;
  /** Virtual time (ns) at which the device will next raise an interrupt by itself, or Infinity. */
  nextEventNs?(): number;
  /** Bring the device up to the current virtual time: raise the interrupts that are due. */
  update?(): void;
}

/** One step of a device's state layout: from version `from` to `from + 1`. */
export interface StateUpgrade {
  readonly from: number;
  /** The layout of version `from` (an old state is checked against it before it is upgraded). */
  readonly schema: StateSchema;
  /** The state at version `from + 1`: what the old layout did not hold, at the value a guest then saw. */
  upgrade(old: PlainState): PlainState;
}

/** A range of I/O ports and what decodes it (a device may answer at several, as the two 8259s do). */
export interface PortWindow {
  base: number;
  count: number;
  /** The name the I/O bus reports for these ports. */
  name: string;
  handler: PortDevice;
}
