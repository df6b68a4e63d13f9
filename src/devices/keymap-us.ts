// Host characters as a US (PC/AT 101-key) keyboard types them: set-2 scancodes (IBM's PS/2 Technical
// Reference; the make code of each key, 0xF0 before a break code), with Shift or Ctrl held around the key
// where the character needs it. `x86jit run --stdin keyboard` types host input this way.

const LEFT_SHIFT = 0x12, LEFT_CTRL = 0x14, BREAK = 0xf0;

/** Unshifted and shifted characters of each key, and its make code. */
const KEYS: [string, string, number][] = [
  ['a', 'A', 0x1c], ['b', 'B', 0x32], ['c', 'C', 0x21], ['d', 'D', 0x23], ['e', 'E', 0x24], ['f', 'F', 0x2b],
  ['g', 'G', 0x34], ['h', 'H', 0x33], ['i', 'I', 0x43], ['j', 'J', 0x3b], ['k', 'K', 0x42], ['l', 'L', 0x4b],
  ['m', 'M', 0x3a], ['n', 'N', 0x31], ['o', 'O', 0x44], ['p', 'P', 0x4d], ['q', 'Q', 0x15], ['r', 'R', 0x2d],
  ['s', 'S', 0x1b], ['t', 'T', 0x2c], ['u', 'U', 0x3c], ['v', 'V', 0x2a], ['w', 'W', 0x1d], ['x', 'X', 0x22],
  ['y', 'Y', 0x35], ['z', 'Z', 0x1a],
  ['1', '!', 0x16], ['2', '@', 0x1e], ['3', '#', 0x26], ['4', '$', 0x25], ['5', '%', 0x2e], ['6', '^', 0x36],
  ['7', '&', 0x3d], ['8', '*', 0x3e], ['9', '(', 0x46], ['0', ')', 0x45],
  ['-', '_', 0x4e], ['=', '+', 0x55], ['[', '{', 0x54], [']', '}', 0x5b], ['\\', '|', 0x5d], [';', ':', 0x4c],
  ["'", '"', 0x52], ['`', '~', 0x0e], [',', '<', 0x41], ['.', '>', 0x49], ['/', '?', 0x4a], [' ', ' ', 0x29],
];
/** Control characters with keys of their own: Enter (CR and LF), Tab, Backspace (BS and DEL), Escape. */
const CONTROL_KEYS: [number, number][] = [[0x0d, 0x5a], [0x0a, 0x5a], [0x09, 0x0d], [0x08, 0x66], [0x7f, 0x66], [0x1b, 0x76]];

const press = (make: number): number[] => [make, BREAK, make];
const held = (modifier: number, make: number): number[] => [modifier, make, BREAK, make, BREAK, modifier];

/** Set-2 scancodes for each byte 0-127 a US keyboard can type, or null. */
const TYPED: (number[] | null)[] = (() => {
  const t: (number[] | null)[] = new Array(128).fill(null);
  for (const [plain, shifted, make] of KEYS) {
    t[plain.charCodeAt(0)] = press(make);
    if (shifted !== plain) t[shifted.charCodeAt(0)] = held(LEFT_SHIFT, make);
  }
  // Ctrl-A … Ctrl-Z, except the bytes that are keys of their own.
  for (let c = 1; c <= 26; c++) t[c] = held(LEFT_CTRL, KEYS[c - 1][2]);
  for (const [byte, make] of CONTROL_KEYS) t[byte] = press(make);
  return t;
})();

/** The scancodes that type `byte` on a US keyboard, or null when no key does (bytes ≥ 0x80, most C0 controls). */
export function typeByte(byte: number): readonly number[] | null {
  return byte < 128 ? TYPED[byte] : null;
}
