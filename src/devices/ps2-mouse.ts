// A PS/2 mouse on the 8042's second (aux) port, answering as QEMU 7.2's ps2.c mouse does — enough for
// Linux's psmouse probe, which finds QEMU's mouse as an "ImExPS/2 Generic Explorer Mouse": reset 0xFF →
// ACK, 0xAA, ID; identify 0xF2 → ACK, ID (0; 3 after the IntelliMouse knock, sample rates 200, 100, 80;
// 4 after the Explorer knock, 200, 200, 80); status request 0xE9 → ACK, status (bit 6 remote, 5 enabled,
// 4 scaling 2:1), resolution, sample rate; set resolution 0xE8 / sample rate 0xF3 → ACK, then ACK for the
// argument; scaling 0xE6/0xE7, stream 0xEA, remote 0xF0, enable 0xF4, disable 0xF5, defaults 0xF6 → ACK;
// poll 0xEB → ACK and a packet with no motion; wrap mode 0xEE → ACK, then every byte echoed until 0xEC
// (reset wrap) or 0xFF. Unknown commands get no reply (QEMU's mouse ignores them). No host pointer feeds it.
import { StateError, type StateOf, type StateSchema } from '../machine/device-state.ts';
import { PS2_QUEUE_STATE, Ps2Queue } from './ps2-queue.ts';

export const AUX_ACK = 0xfa;
const SET_SCALE11 = 0xe6, SET_SCALE21 = 0xe7, SET_RES = 0xe8, GET_SCALE = 0xe9, SET_STREAM = 0xea, POLL = 0xeb,
  RESET_WRAP = 0xec, SET_WRAP = 0xee, SET_REMOTE = 0xf0, GET_TYPE = 0xf2, SET_SAMPLE = 0xf3, ENABLE = 0xf4,
  DISABLE = 0xf5, SET_DEFAULT = 0xf6, RESET = 0xff;
export const MOUSE_STATUS_REMOTE = 0x40, MOUSE_STATUS_ENABLED = 0x20, MOUSE_STATUS_SCALE21 = 0x10;

export const PS2_MOUSE_STATE = {
  queue: { struct: PS2_QUEUE_STATE }, command: { nullable: 'u8' }, status: 'u8', resolution: 'u8', sampleRate: 'u8',
  wrap: 'bool', type: 'u8', detect: 'u8',
} as const satisfies StateSchema;

export class Ps2Mouse {
  readonly queue: Ps2Queue;
  /** SET_RES or SET_SAMPLE waiting for its argument, or null. */
  private command: number | null = null;
  private status = 0;
  /** Resolution and rate are 0 at power-on (QEMU's device reset) until the guest resets the mouse. */
  private resolution = 0;
  private sampleRate = 0;
  private wrap = false;
  /** The device ID: 0 PS/2, 3 IntelliMouse, 4 IntelliMouse Explorer. */
  private type = 0;
  /** Progress through the sample-rate sequences that switch the type (0 = none seen). */
  private detect = 0;

  constructor(onData: (level: boolean) => void) {
    this.queue = new Ps2Queue(onData);
  }

  /** A byte from the controller (command 0xD4 then a port 0x60 write). */
  write(value: number): void {
    const q = this.queue;
    if (this.command !== null) {
      if (this.command === SET_SAMPLE) { this.sampleRate = value; this.knock(value); } else this.resolution = value;
      this.command = null;
      q.push(AUX_ACK);
      return;
    }
    if (this.wrap) {
      if (value === RESET_WRAP) { this.wrap = false; q.push(AUX_ACK); return; }
      if (value !== RESET) { q.push(value); return; }
    }
    switch (value) {
      case SET_SCALE11: this.status &= ~MOUSE_STATUS_SCALE21; q.push(AUX_ACK); break;
      case SET_SCALE21: this.status |= MOUSE_STATUS_SCALE21; q.push(AUX_ACK); break;
      case SET_STREAM: this.status &= ~MOUSE_STATUS_REMOTE; q.push(AUX_ACK); break;
      case SET_WRAP: this.wrap = true; q.push(AUX_ACK); break;
      case SET_REMOTE: this.status |= MOUSE_STATUS_REMOTE; q.push(AUX_ACK); break;
      case GET_TYPE: q.push(AUX_ACK, this.type); break;
      case SET_RES: case SET_SAMPLE: this.command = value; q.push(AUX_ACK); break;
      case GET_SCALE: q.push(AUX_ACK, this.status, this.resolution, this.sampleRate); break;
      case POLL: q.push(AUX_ACK); q.push(...this.packet()); break;
      case ENABLE: this.status |= MOUSE_STATUS_ENABLED; q.push(AUX_ACK); break;
      case DISABLE: this.status &= ~MOUSE_STATUS_ENABLED; q.push(AUX_ACK); break;
      case SET_DEFAULT: this.defaults(); q.push(AUX_ACK); break;
      case RESET:
        this.defaults();
        this.type = 0;
        this.wrap = false;
        q.clear();
        q.push(AUX_ACK, 0xaa, this.type);
        break;
      default: break;
    }
  }

  /** The next byte for the controller. */
  read(): number { return this.queue.read(); }

  private defaults(): void {
    this.sampleRate = 100;
    this.resolution = 2;
    this.status = 0;
  }

  /** A movement packet with no motion and no buttons (bit 3 is always set), plus the wheel byte of types 3 and 4. */
  private packet(): number[] {
    return this.type === 0 ? [0x08, 0, 0] : [0x08, 0, 0, 0];
  }

  /** Sample rates 200, 100, 80 make an IntelliMouse (ID 3); 200, 200, 80 an Explorer (ID 4). */
  private knock(rate: number): void {
    switch (this.detect) {
      case 1: this.detect = rate === 100 ? 2 : rate === 200 ? 3 : 0; break;
      case 2: if (rate === 80) this.type = 3; this.detect = 0; break;
      case 3: if (rate === 80) this.type = 4; this.detect = 0; break;
      default: if (rate === 200) this.detect = 1; break;
    }
  }

  save(): StateOf<typeof PS2_MOUSE_STATE> {
    const { command, status, resolution, sampleRate, wrap, type, detect } = this;
    return { queue: this.queue.save(), command, status, resolution, sampleRate, wrap, type, detect };
  }

  load(v: StateOf<typeof PS2_MOUSE_STATE>): void {
    if (v.command !== null && v.command !== SET_RES && v.command !== SET_SAMPLE) throw new StateError('i8042: mouse waits for the argument of a command that takes none');
    if (v.detect > 3 || ![0, 3, 4].includes(v.type)) throw new StateError('i8042: mouse type out of range');
    this.queue.load(v.queue);
    this.command = v.command; this.status = v.status; this.resolution = v.resolution; this.sampleRate = v.sampleRate;
    this.wrap = v.wrap; this.type = v.type; this.detect = v.detect;
  }
}
