// The whole state of a VM in one place (Firecracker's MicrovmState habit): the configuration it was created
// with, the CPU-state block and the CPU's other fields, guest time, every device on the board, the ROM
// images mapped above RAM — and RAM itself, which the snapshot writer reads in place. Nothing host-specific
// (host time, output sinks, the engine, caches) is in it; restoring rebuilds the caches.
//
// Each part has a schema (device-state.ts) and a version; snapshot.ts writes each part as a file section.
import { CS, DS, ES, FS, GS, SS } from '../decoder/instruction.ts';
import { CPL, IF, JIT_CHAINS_SLOT, JIT_EXIT_SLOT, JIT_PAUSE_SLOT, JIT_TSC_SLOT, STATE_SLOTS } from '../cpu/state.ts';
import { checkState, StateError, type StateOf, type StateSchema } from './device-state.ts';
import type { SavedDevice } from './board.ts';
import type { VM } from './vm.ts';

/** The largest ROM image a snapshot carries (the BIOS loader maps at most 256 KiB). */
const MAX_ROM = 16 << 20;

export const CONFIG_STATE = { memory: 'u32', clock: { oneOf: ['virtual', 'realtime'] } } as const satisfies StateSchema;
export const CPU_STATE = {
  slots: { list: 'i32', max: STATE_SLOTS },
  halted: 'bool', shadow: 'u8', instructions: 'int', deliveries: 'int',
  msrs: { list: { struct: { index: 'u32', hi: 'u32', lo: 'u32' } }, max: 1024 },
} as const satisfies StateSchema;
export const TIME_STATE = { nowNs: 'num', idleNs: 'num' } as const satisfies StateSchema;
export const ROM_STATE = { regions: { list: { struct: { base: 'u32', image: { base64: MAX_ROM } } }, max: 16 } } as const satisfies StateSchema;

/** A VM's state except RAM, as plain data. */
export interface VmState {
  config: StateOf<typeof CONFIG_STATE>;
  cpu: StateOf<typeof CPU_STATE>;
  time: StateOf<typeof TIME_STATE>;
  devices: Record<string, SavedDevice>;
  roms: StateOf<typeof ROM_STATE>;
}

/** The state parts, their layout versions and schemas: what snapshot.ts writes as sections (devices carry their own). */
export const STATE_PARTS = {
  config: { version: 1, schema: CONFIG_STATE },
  cpu: { version: 1, schema: CPU_STATE },
  time: { version: 1, schema: TIME_STATE },
  roms: { version: 1, schema: ROM_STATE },
} as const;

/** Gather `vm`'s state (not RAM). A VM with a host MMIO device mapped cannot be saved: the device is a host object. */
export function captureState(vm: VM): VmState {
  const mmio = vm.memory.mmioBases();
  if (mmio.length > 0) throw new StateError(`cannot save a VM with a host MMIO device mapped (at 0x${mmio[0].toString(16)})`);
  const extra = vm.memory.extraRamBases();
  if (extra.length > 0) throw new StateError(`cannot save a VM with RAM mapped outside its main RAM (vm.mapRam at 0x${extra[0].toString(16)})`);
  const cpu = vm.cpu;
  const slots = Array.from(cpu.s);
  slots[JIT_EXIT_SLOT] = 0; slots[JIT_CHAINS_SLOT] = 0; slots[JIT_TSC_SLOT] = 0; slots[JIT_TSC_SLOT + 1] = 0; slots[JIT_PAUSE_SLOT] = 0; // the accelerator's scratch, not guest state
  return {
    config: { memory: vm.memory.ramSize, clock: vm.clock },
    cpu: {
      slots, halted: cpu.halted, shadow: cpu.shadow, instructions: cpu.instructions, deliveries: cpu.deliveries,
      msrs: [...cpu.msrs].map(([index, v]) => ({ index, hi: Number(v >> 32n) >>> 0, lo: Number(v & 0xffffffffn) >>> 0 })),
    },
    time: vm.timeState(),
    devices: vm.board.save(),
    roms: { regions: vm.memory.roms().map((r) => ({ base: r.base, image: toBase64(r.image) })) },
  };
}

/** Check every part of a state read from a file against its schema (throws StateError naming the field). */
export function checkVmState(state: Record<string, unknown>): asserts state is Record<string, unknown> & Omit<VmState, 'devices'> {
  for (const [name, part] of Object.entries(STATE_PARTS)) checkState(part.schema, state[name], name);
  const cpu = state.cpu as VmState['cpu'], time = state.time as VmState['time'];
  if (cpu.slots.length !== STATE_SLOTS) throw new StateError(`cpu.slots: expected ${STATE_SLOTS} slots`);
  if (cpu.slots[CPL] < 0 || cpu.slots[CPL] > 3) throw new StateError('cpu: CPL out of range');
  if (cpu.instructions < 0 || cpu.deliveries < 0 || time.idleNs < 0 || time.nowNs < 0) throw new StateError('cpu: negative counter');
}

/**
 * Put `state` into `vm`, a VM just created with state.config's memory size, and RAM already written. Then
 * rebuild what is derived: segment fast paths, paging mode and TLB, decoded and compiled code, INTR.
 */
export function applyState(vm: VM, state: VmState): void {
  checkVmState(state as unknown as Record<string, unknown>);
  if (state.config.memory !== vm.memory.ramSize) throw new StateError(`config: the state has ${state.config.memory} bytes of RAM, the VM ${vm.memory.ramSize}`);
  vm.board.load(state.devices);
  for (const r of state.roms.regions) {
    try { vm.memory.mapRom(r.base, fromBase64(r.image)); } catch (e) { throw new StateError(`roms: ${(e as Error).message}`); }
  }
  const cpu = vm.cpu, c = state.cpu;
  cpu.s.set(c.slots);
  cpu.halted = c.halted; cpu.shadow = c.shadow; cpu.instructions = c.instructions; cpu.deliveries = c.deliveries;
  cpu.msrs.clear();
  for (const m of c.msrs) cpu.msrs.set(m.index, (BigInt(m.hi) << 32n) | BigInt(m.lo));
  vm.setTimeState(state.time);
  for (const seg of [ES, CS, SS, DS, FS, GS]) cpu.refreshSegment(seg);
  cpu.pagingChanged();
  vm.interpreter.cache.flush();
  cpu.intr = vm.lapic.hasInterrupt() ? IF : 0;
  cpu.breakBlock = 0;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
