// Turns the vector cases into the files of docs/vectors/: hex, diagnostic notation and typed
// JSON per message. Both scripts/make-vectors.ts (which writes them) and the vector test (which
// fails when the committed files differ from what the code sends now) call renderVectors().

import path from 'node:path';
import { decode, encode } from '../../src/wire/codec.ts';
import { ROOT } from '../helpers.ts';
import { type VectorCase, vectorCases } from './vector-cases.ts';
import { diagnostic, toTyped, vectorReferences } from './vector-forms.ts';
import { refusedCases } from './vector-refused.ts';

export const VECTOR_DIR = path.join(ROOT, 'docs', 'vectors');

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function at(value: unknown, keys: string[]): Uint8Array {
  let here = value;
  for (const key of keys) here = (here as Record<string, unknown>)[key];
  if (!(here instanceof Uint8Array)) throw new Error(`no byte string at ${keys.join('.')}`);
  return here;
}

function item(value: unknown, references: boolean, nested: string[][] = []): Record<string, unknown> {
  const context = references ? vectorReferences : undefined;
  const bytes = encode(value, context);
  // The value as a receiver decodes it: what the vector promises.
  const out: Record<string, unknown> = {
    hex: hex(bytes),
    diagnostic: diagnostic(bytes),
    value: toTyped(decode(bytes, context)),
  };
  if (nested.length > 0) {
    out.nested = nested.map((keys) => {
      const inner = at(value, keys);
      return { path: keys, hex: hex(inner), diagnostic: diagnostic(inner), value: toTyped(decode(inner)) };
    });
  }
  return out;
}

function render(vector: VectorCase): Record<string, unknown> {
  const head = { name: vector.name, description: vector.description, type: vector.type };
  const references = vector.references ? { references: true } : {};
  if (vector.type !== 'sequence') {
    return { ...head, ...references, ...item(vector.value, vector.references === true, vector.nested) };
  }
  const steps = (vector.steps ?? []).map((step) => {
    if (!step.bytes) return { from: step.from, ...item(step.value, vector.references === true) };
    // A chunk's data is the bulk of it: its fields are given without it, and its length.
    const { data, ...fields } = step.value as { data: Uint8Array };
    return { from: step.from, hex: hex(step.bytes), fields: toTyped(fields), dataLength: data.length };
  });
  const whole = vector.value === undefined ? {} : { whole: { value: toTyped(decode(encode(vector.value))) } };
  return { ...head, ...references, steps, ...whole };
}

/** File name to file text, for every case. */
export function renderVectors(): Map<string, string> {
  const files = new Map<string, string>();
  for (const vector of vectorCases()) {
    if (files.has(`${vector.name}.json`)) throw new Error(`two vectors named ${vector.name}`);
    files.set(`${vector.name}.json`, `${JSON.stringify(render(vector), null, 2)}\n`);
  }
  for (const refused of refusedCases) {
    files.set(`${refused.name}.json`, `${JSON.stringify({ ...refused, type: 'refused' }, null, 2)}\n`);
  }
  return files;
}
