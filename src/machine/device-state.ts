// A device's saved state, described once as data (QEMU's VMStateDescription habit): each device names its
// fields and their types in a schema, save() returns a plain object of that shape, and one walker checks a
// loaded object against the schema before the device sees it. So a snapshot that was damaged or written by
// hand can only be refused with one line naming the field — it can never put a device into a state its own
// code could not have reached through its fields' types.

/** A field's type. Integers are checked for range; 'int' is any safe integer (pulse counts, times). */
export type FieldType =
  | 'u8' | 'u16' | 'u32' | 'i32' | 'int' | 'bool' | 'num'
  | { bytes: number }                                   // exactly this many u8 values
  | { base64: number }                                  // a byte string of at most this many bytes, base64 in the plain data
  | { oneOf: readonly string[] }                        // one of these strings
  | { list: FieldType; max: number }                    // up to max items
  | { nullable: FieldType }
  | { struct: StateSchema }
  | { union: string; cases: Record<string, StateSchema> }; // a struct whose field `union` (a string) picks the case

export type StateSchema = Readonly<Record<string, FieldType>>;

/** What save() returns: plain data (JSON-able numbers, booleans, strings, arrays, objects, null). */
export type PlainState = { [field: string]: unknown };

/** The plain object a schema describes (declare schemas `as const satisfies StateSchema` for this to see their literals). */
export type StateOf<S> = { -readonly [K in keyof S]: FieldValue<S[K]> };
type FieldValue<T> =
  T extends 'bool' ? boolean
  : T extends string ? number
  : T extends { bytes: number } ? number[]
  : T extends { base64: number } ? string
  : T extends { oneOf: readonly (infer E)[] } ? E
  : T extends { list: infer L } ? FieldValue<L>[]
  : T extends { nullable: infer N } ? FieldValue<N> | null
  : T extends { struct: infer S } ? StateOf<S>
  : T extends { union: infer U extends string; cases: infer C } ? { [K in keyof C]: { [P in U]: K } & StateOf<C[K]> }[keyof C]
  : never;

/** A loaded state that does not fit its schema. */
export class StateError extends Error {}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const RANGES: Record<string, [number, number]> = { u8: [0, 0xff], u16: [0, 0xffff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff] };

/** Check `value` against `schema` (every field present, none extra, each of its type); throws StateError naming the path. */
export function checkState(schema: StateSchema, value: unknown, path: string): asserts value is PlainState {
  checkStruct(schema, value, path);
}

function checkStruct(schema: StateSchema, value: unknown, path: string, skip?: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StateError(`${path}: expected an object`);
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) if (!(key in schema) && key !== skip) throw new StateError(`${path}: unknown field '${key}'`);
  for (const [key, type] of Object.entries(schema)) {
    if (!(key in v)) throw new StateError(`${path}: field '${key}' is missing`);
    checkField(type, v[key], `${path}.${key}`);
  }
}

function checkField(type: FieldType, v: unknown, path: string): void {
  if (typeof type === 'string') {
    if (type === 'bool') { if (typeof v !== 'boolean') throw new StateError(`${path}: expected true or false`); return; }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new StateError(`${path}: expected a finite number`);
    if (type === 'num') return;
    if (!Number.isSafeInteger(v)) throw new StateError(`${path}: expected an integer`);
    const r = RANGES[type];
    if (r && (v < r[0] || v > r[1])) throw new StateError(`${path}: ${v} is outside ${type}`);
    return;
  }
  if ('bytes' in type) {
    if (!Array.isArray(v) || v.length !== type.bytes) throw new StateError(`${path}: expected ${type.bytes} bytes`);
    for (let i = 0; i < v.length; i++) checkField('u8', v[i], `${path}[${i}]`);
    return;
  }
  if ('base64' in type) {
    if (typeof v !== 'string' || !BASE64.test(v) || v.length % 4 !== 0 || (v.length / 4) * 3 > type.base64 + 2) throw new StateError(`${path}: expected base64 of at most ${type.base64} bytes`);
    return;
  }
  if ('oneOf' in type) {
    if (typeof v !== 'string' || !type.oneOf.includes(v)) throw new StateError(`${path}: expected one of ${type.oneOf.join(', ')}`);
    return;
  }
  if ('list' in type) {
    if (!Array.isArray(v) || v.length > type.max) throw new StateError(`${path}: expected a list of at most ${type.max}`);
    for (let i = 0; i < v.length; i++) checkField(type.list, v[i], `${path}[${i}]`);
    return;
  }
  if ('nullable' in type) { if (v !== null) checkField(type.nullable, v, path); return; }
  if ('struct' in type) { checkStruct(type.struct, v, path); return; }
  const tag = (v as Record<string, unknown> | null)?.[type.union];
  if (typeof tag !== 'string' || !Object.hasOwn(type.cases, tag)) throw new StateError(`${path}.${type.union}: expected one of ${Object.keys(type.cases).join(', ')}`);
  checkStruct(type.cases[tag], v, path, type.union);
}
