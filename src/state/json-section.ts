// Sections made from plain data: the state gatherer fills a section with a JSON-able value (registers,
// a device's fields) and reads it back, so that this layer stays a byte container. UTF-8 JSON is easy to
// inspect and to version by hand; it compresses well, and the sections are small beside RAM.
import { oneLine } from './compression.ts';
import { SnapshotError } from './snapshot-error.ts';
import type { Section } from './snapshot-file.ts';

/** A section holding `value` as UTF-8 JSON. Throws SnapshotError for a value JSON cannot hold (a BigInt, a cycle, undefined). */
export function jsonSection(tag: string, version: number, value: unknown): Section {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new SnapshotError(`cannot write snapshot section ${tag.trimEnd()}: ${oneLine((e as Error).message)}`);
  }
  if (text === undefined) throw new SnapshotError(`cannot write snapshot section ${tag.trimEnd()}: ${typeof value} is not JSON`);
  return { tag, version, data: new TextEncoder().encode(text) };
}

/** The value a JSON section holds. Throws SnapshotError when its bytes are not UTF-8 JSON. */
export function readJsonSection(s: Section): unknown {
  const damaged = (why: string): never => { throw new SnapshotError(`snapshot section ${s.tag.trimEnd()} is damaged: ${why}`); };
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(s.data);
  } catch {
    damaged('not UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    return damaged(`not JSON (${oneLine((e as Error).message)})`);
  }
}
