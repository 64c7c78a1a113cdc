// The golden vectors of docs/vectors/ against this implementation: every file decodes to its
// typed value, every value encodes to its bytes, messages validate, and the files are exactly
// what the code sends today (so a wire change without new vectors fails here). The refused
// vectors go to a real endpoint, which must answer each with its Failure.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type Table } from 'runtable';
import { decode, encode } from '../../src/wire/codec.ts';
import { Kind } from '../../src/wire/protocol.ts';
import { toMessage } from '../../src/wire/validate.ts';
import { cleanup, tempTableDir } from '../helpers.ts';
import { RawPeer } from '../raw-peer.ts';
import { diagnostic, fromTyped, toTyped, vectorReferences } from './vector-forms.ts';
import { renderVectors, VECTOR_DIR } from './vector-render.ts';

type Json = Parameters<typeof fromTyped>[0];

interface Item {
  hex: string;
  diagnostic: string;
  value: Json;
  nested?: { path: string[]; hex: string; diagnostic: string; value: Json }[];
}

interface VectorFile extends Partial<Item> {
  name: string;
  type: 'message' | 'value' | 'sequence' | 'refused';
  references?: boolean;
  steps?: (Partial<Item> & { from: string; hex: string; fields?: Json; dataLength?: number })[];
  whole?: { value: Json };
  frame?: string;
  answer?: { id: number; code: string };
  closes?: boolean;
}

const files = fs
  .readdirSync(VECTOR_DIR)
  .filter((name) => name.endsWith('.json'))
  .sort();
const vectors: VectorFile[] = files.map((name) => JSON.parse(fs.readFileSync(path.join(VECTOR_DIR, name), 'utf8')));

function checkItem(item: Item, references: boolean, isMessage: boolean, where: string): unknown {
  const context = references ? vectorReferences : undefined;
  const bytes = Buffer.from(item.hex, 'hex');
  assert.equal(diagnostic(bytes), item.diagnostic, `${where}: diagnostic notation`);
  const decoded = decode(bytes, context);
  assert.deepStrictEqual(toTyped(decoded), item.value, `${where}: decoded value`);
  assert.equal(Buffer.from(encode(fromTyped(item.value), context)).toString('hex'), item.hex, `${where}: encoding`);
  if (isMessage) toMessage(decode(bytes, context));
  for (const inner of item.nested ?? []) {
    let here: unknown = decoded;
    for (const key of inner.path) here = (here as Record<string, unknown>)[key];
    assert.equal(Buffer.from(here as Uint8Array).toString('hex'), inner.hex, `${where}: nested ${inner.path}`);
    checkItem(inner, false, false, `${where} ${inner.path.join('.')}`);
  }
  return decoded;
}

describe('golden vectors', () => {
  it('are exactly what this implementation sends (run scripts/make-vectors.ts after a wire change)', () => {
    const expected = renderVectors();
    assert.deepStrictEqual(files, [...expected.keys()].sort(), 'the files in docs/vectors/');
    for (const name of files) {
      // Compared as JSON, so that the layout of a file does not matter, only what it says.
      const committed = JSON.parse(fs.readFileSync(path.join(VECTOR_DIR, name), 'utf8'));
      assert.deepStrictEqual(committed, JSON.parse(expected.get(name) as string), `docs/vectors/${name}`);
    }
  });

  it('cover every kind of message of protocol.ts', () => {
    const seen = new Set<number>();
    for (const vector of vectors) {
      const items: { value?: Json; fields?: Json }[] = vector.type === 'sequence' ? (vector.steps ?? []) : [vector];
      for (const item of items) {
        const value = (item.value ?? item.fields) as { kind?: unknown } | undefined;
        if (vector.type !== 'value' && typeof value?.kind === 'number') seen.add(value.kind);
      }
    }
    assert.deepStrictEqual(
      [...seen].sort((a, b) => a - b),
      Object.values(Kind).sort((a, b) => a - b),
    );
  });

  it('are the bytes of the examples in PROTOCOL.md section 10', () => {
    const text = fs.readFileSync(path.join(VECTOR_DIR, '..', 'PROTOCOL.md'), 'utf8');
    const example = (text.split('## 10. Example')[1] ?? '').split('## 11.')[0] ?? '';
    const bytes = example.replace(/[^\n]*[a-z]{3,}[^\n]*\n/gi, (line) =>
      /^[0-9a-f ]+$/.test(line.trim()) ? line : '\n',
    );
    const hexRun = bytes.replace(/\s+/g, '');
    for (const name of ['welcome', 'call', 'reply', 'failure-connection']) {
      const vector = vectors.find((v) => v.name === name) as VectorFile;
      const body = vector.hex as string;
      const frame = (body.length / 2).toString(16).padStart(8, '0') + body;
      assert.ok(hexRun.includes(frame), `PROTOCOL.md section 10 shows the frame of docs/vectors/${name}.json`);
    }
    const date = (vectors.find((v) => v.name === 'value-date') as VectorFile).hex as string;
    assert.ok(date.includes(example.match(/`(c1 fb [0-9a-f ]+)`/)?.[1]?.replace(/ /g, '') ?? '-'), 'the Date example');
  });

  for (const vector of vectors.filter((v) => v.type === 'message' || v.type === 'value')) {
    it(`${vector.name}: decodes, encodes and validates`, () => {
      checkItem(vector as Item, vector.references === true, vector.type === 'message', vector.name);
    });
  }

  for (const vector of vectors.filter((v) => v.type === 'sequence')) {
    it(`${vector.name}: every step decodes, encodes and validates`, () => {
      const data: Buffer[] = [];
      for (const [i, step] of (vector.steps ?? []).entries()) {
        if (step.value !== undefined) {
          checkItem(step as Item, vector.references === true, true, `${vector.name} step ${i}`);
          continue;
        }
        const chunk = toMessage(decode(Buffer.from(step.hex, 'hex'))) as { data: Uint8Array };
        const { data: bytes, ...fields } = chunk;
        assert.deepStrictEqual(toTyped(fields), step.fields, `${vector.name} step ${i} fields`);
        assert.equal(bytes.length, step.dataLength);
        data.push(Buffer.from(bytes));
      }
      if (data.length > 0 && vector.whole) {
        const whole = Buffer.concat(data);
        assert.deepStrictEqual(toTyped(toMessage(decode(whole))), vector.whole.value, `${vector.name}: whole`);
        assert.ok(Buffer.from(encode(fromTyped(vector.whole.value))).equals(whole), `${vector.name}: whole encoding`);
      }
    });
  }
});

describe('refused vectors, sent to a JS endpoint', () => {
  let dir: string;
  let table: Table;
  let endpoint: string;

  before(async () => {
    dir = tempTableDir();
    table = await connect({ dir, timeout: 10_000 });
    await table.register('Vectors/target', { send: (text: string) => text });
    const entry = await table.lookup('Vectors/target');
    assert.ok(entry);
    // The endpoint's path is in the broker's entry; the public Entry leaves it out.
    endpoint = path.join(dir, fs.readdirSync(dir).find((name) => /^o\d+-\d+\.sock$/.test(name)) as string);
  });

  after(async () => {
    await table.close();
    await cleanup(dir);
  });

  for (const vector of vectors.filter((v) => v.type === 'refused')) {
    it(`${vector.name}: ${vector.answer?.code} with id ${vector.answer?.id}${vector.closes ? ', then closed' : ''}`, async () => {
      const peer = await RawPeer.handshaken(endpoint);
      try {
        const before = peer.frames.length;
        peer.writeRaw(Buffer.from(vector.frame as string, 'hex'));
        const failure = await peer.next((m) => m.kind === 41);
        assert.equal(failure.id, vector.answer?.id);
        assert.equal((failure.error as { code: string }).code, vector.answer?.code);
        // The id goes back by value, in the shortest form, whatever form it came in.
        const raw = peer.frames[before];
        assert.ok(raw?.includes(Buffer.from(`626964${Buffer.from(encode(vector.answer?.id)).toString('hex')}`, 'hex')));
        if (vector.closes) await peer.waitClosed();
        else {
          const answer = await peer.request({ kind: 30, id: 100, target: 1, method: 'send', args: ['still here'] });
          assert.equal(answer.value, 'still here');
        }
      } finally {
        peer.destroy();
      }
    });
  }
});
