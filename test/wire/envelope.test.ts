// The messages of every call (Call, Invoke, Reply) are written and read field by field
// (codec.ts encodeCall/encodeReply, envelope-decode.ts decodeCall/decodeReply). The wire must not
// change: each is compared here with the general encoder and decoder, bytes and objects alike,
// and what does not match the usual form must fall back to the general path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Encoder } from 'cbor-x';
import { decodeCbor, wholeView } from '../../src/wire/cbor-decode.ts';
import { joined } from '../../src/wire/cbor-encode.ts';
import { decodeHooks, encode, encodeCall, encodeReply, type ReferenceContext } from '../../src/wire/codec.ts';
import { decodeCall, decodeReply, lastCallExact, takeReplyValue } from '../../src/wire/envelope-decode.ts';
import { Kind } from '../../src/wire/protocol.ts';
import { toMessage } from '../../src/wire/validate.ts';
import { MAX_VALUE_DEPTH } from '../../src/wire/values.ts';

/** Exports as a session would, numbering what it is given, and records it. */
function exporter(): ReferenceContext & { exported: unknown[] } {
  const exported: unknown[] = [];
  return {
    exported,
    exportReference(kind, value) {
      exported.push(value);
      return [kind, exported.length];
    },
    importReference: (kind, id) => ({ imported: [kind, id] }),
  };
}

const callback = () => 1;
const argsCases: unknown[][] = [
  [],
  [Buffer.from('0123456789abcdef'.repeat(4))],
  [new Uint8Array([1, 2, 3])],
  [{ a: 1, b: [true, null, undefined], c: 'ü' }],
  [new Map<unknown, unknown>([[1, 'one']]), new Set([1, 2]), new Date(0), 2n ** 70n],
  [callback, 'after a function'],
  [new Error('thrown', { cause: 'cause' })],
  [1.5, -1, 2 ** 40, Number.NaN],
];
const methods = ['', 'echo', 'ü', '\ud800', 'x'.repeat(23), 'x'.repeat(24), 'y'.repeat(70), 'é'.repeat(200)];
const ids = [1, 23, 24, 255, 256, 65535, 65536, 2 ** 31 - 1];
const targets = [0, 1, 24, 70_000, 2 ** 32 - 1];

function calls(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [i, args] of argsCases.entries()) {
    const method = methods[i % methods.length] as string;
    const target = targets[i % targets.length] as number;
    out.push({ kind: Kind.Call, target, method, args });
    out.push({ kind: Kind.Call, target, method, args, stack: true });
    out.push({ kind: Kind.Invoke, ref: target, method, args });
    out.push({ kind: Kind.Invoke, ref: target, method, args, stack: true });
  }
  for (const method of methods) out.push({ kind: Kind.Call, target: 3, method, args: [method] });
  return out;
}

describe('call envelopes', () => {
  it('write the bytes encode() writes for a Call or Invoke numbered last, with the same exports', () => {
    for (const message of calls()) {
      for (const id of ids) {
        const fast = exporter();
        const general = exporter();
        const encoded = encodeCall(structuredCloneable(message), id, fast);
        assert.ok(encoded, 'the usual form is written field by field');
        const bytes = joined(encoded);
        const expected = encode({ ...message, id }, general);
        assert.deepEqual(Buffer.from(bytes), Buffer.from(expected), `${JSON.stringify(message.method)} id ${id}`);
        assert.deepEqual(fast.exported, general.exported);
      }
    }
  });

  it('leave any other message to encode(): one with more fields, or a stack that is not true', () => {
    const args = [1];
    assert.equal(encodeCall({ kind: Kind.Call, target: 1, method: 'm', args, trace: 'x' } as never, 1), undefined);
    assert.equal(encodeCall({ kind: Kind.Call, target: 1, method: 'm', args, stack: false }, 1), undefined);
    assert.equal(encodeCall({ kind: Kind.Invoke, ref: 1, method: 'm', args, stack: undefined } as never, 1), undefined);
  });

  it('refuse what cannot travel with the message encode() gives, and at the same depth', () => {
    const refusal = (send: () => unknown) => {
      try {
        send();
      } catch (error) {
        return (error as Error).message;
      }
      return 'sent';
    };
    const bad = [Symbol('s'), { deep: { promise: Promise.resolve() } }, new WeakMap()];
    for (const value of bad) {
      const message = { kind: Kind.Call, target: 1, method: 'm', args: [1, value] as unknown[] } as const;
      const fast = refusal(() => encodeCall(message, 5));
      assert.match(fast, /^args\[1\]/);
      assert.equal(
        fast,
        refusal(() => encode({ ...message, id: 5 })),
      );
    }
    for (let depth = MAX_VALUE_DEPTH - 3; depth <= MAX_VALUE_DEPTH + 1; depth++) {
      let nested: unknown = 0;
      for (let i = 0; i < depth; i++) nested = [nested];
      const message = { kind: Kind.Call, target: 1, method: 'm', args: nested as unknown[] } as const;
      const fast = refusal(() => encodeCall(message, 5));
      assert.equal(fast.replace(/^.*? is/, ''), refusal(() => encode({ ...message, id: 5 })).replace(/^.*? is/, ''));
      assert.equal(fast === 'sent', refusal(() => encode({ ...message, id: 5 })) === 'sent', `depth ${depth}`);
    }
  });

  it('are read as the general decoder and validation read them', () => {
    for (const message of calls()) {
      for (const id of [1, 24, 70_000]) {
        const bytes = encode({ ...message, id }, exporter());
        const general = toMessage(decodeCbor(bytes, decodeHooks(exporter())));
        const fast = decodeCall(bytes, decodeHooks(exporter()));
        assert.ok(fast, 'the usual form is read field by field');
        assert.equal(lastCallExact(), true);
        assert.deepStrictEqual(fast, general);
        assert.deepEqual(Object.keys(fast), Object.keys(general), 'fields in the same order');
      }
    }
  });

  it('read a newer peer’s extra field as the general decoder does, and leave other forms to it', () => {
    const extra = encode(
      { kind: Kind.Call, target: 1, method: 'm', args: [callback], trace: 'abc', id: 9 },
      exporter(),
    );
    const fast = decodeCall(extra, decodeHooks(exporter()));
    assert.equal(lastCallExact(), false, 'validation must judge it');
    assert.deepStrictEqual(fast, decodeCbor(extra, decodeHooks(exporter())));
    // Another encoder's form (short map heads, a key order of its own): not matched.
    const other = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
    assert.equal(
      decodeCall(other.encode({ kind: Kind.Call, target: 1, method: 'm', args: [], id: 2 }), decodeHooks()),
      undefined,
    );
    const reordered = encode({ kind: Kind.Call, method: 'm', target: 1, args: [], id: 2 });
    assert.equal(decodeCall(reordered, decodeHooks()), undefined);
    assert.equal(decodeCall(encode({ kind: Kind.Reply, id: 1, value: 2 }), decodeHooks()), undefined);
    // Broken after the arguments: fails as the general decoder fails, without reading anything twice.
    const truncated = encode({ kind: Kind.Call, target: 1, method: 'm', args: [1], id: 300 }).subarray(0, -1);
    assert.throws(() => decodeCall(truncated, decodeHooks()));
    assert.throws(() => decodeCbor(truncated, decodeHooks()));
  });
});

describe('reply envelopes', () => {
  const values: unknown[] = [undefined, null, 0, 'ok', Buffer.from('payload'), { a: [1, 2] }, [callback], 2n ** 64n];

  it('write and read what encode() and the general decoder do', () => {
    for (const value of values) {
      for (const id of ids) {
        const bytes = joined(encodeReply(id, value, exporter()));
        assert.deepEqual(Buffer.from(bytes), Buffer.from(encode({ kind: Kind.Reply, id, value }, exporter())));
        const general = toMessage(decodeCbor(bytes, decodeHooks(exporter()))) as { id: number; value: unknown };
        assert.equal(decodeReply(bytes, decodeHooks(exporter())), id);
        assert.deepStrictEqual(takeReplyValue(), general.value);
        assert.equal(general.id, id);
      }
    }
  });

  it('leave other forms to the general decoder: not a Reply, other heads, trailing bytes fail', () => {
    assert.equal(
      decodeReply(encode({ kind: Kind.Failure, id: 1, error: { code: 'X', message: 'm' } }), decodeHooks()),
      -1,
    );
    assert.equal(decodeReply(encode({ kind: Kind.Reply, value: 1, id: 1 }), decodeHooks()), -1);
    assert.equal(decodeReply(encode({ kind: Kind.Reply, id: 2 ** 40, value: 1 }), decodeHooks()), -1);
    const other = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
    assert.equal(decodeReply(other.encode({ kind: Kind.Reply, id: 1, value: 1 }), decodeHooks()), -1);
    const trailing = Buffer.concat([encode({ kind: Kind.Reply, id: 1, value: 1 }), Buffer.from([0])]);
    assert.throws(() => decodeReply(trailing, decodeHooks()), /bytes follow/);
  });
});

describe('envelopes read in place', () => {
  // As the frame reader hands them over (Transport.onFrameAt): frames back to back in one read's
  // memory, each read from its offset in one view of all of it.
  it('give what the frames alone give, byte strings as Buffers of their own bytes', () => {
    const frames = [
      encode({ kind: Kind.Call, target: 1, method: 'echo', args: [Buffer.alloc(64, 7)], id: 3 }),
      joined(encodeReply(4, Buffer.alloc(64, 9))),
      encode({ kind: Kind.Invoke, ref: 2, method: 'm', args: [new Uint8Array([1, 2]), 'x'], stack: true, id: 5 }),
    ];
    const read = Buffer.concat([Buffer.from([1, 2, 3]), ...frames]);
    const whole = wholeView(read.buffer);
    let offset = read.byteOffset + 3;
    const [call, reply, invoke] = frames as [Uint8Array, Uint8Array, Uint8Array];
    const end = (frame: Uint8Array) => offset + frame.length;
    assert.deepStrictEqual(decodeCall(whole, decodeHooks(), offset, end(call)), decodeCall(call, decodeHooks()));
    assert.equal(decodeReply(whole, decodeHooks(), offset, end(call)), -1);
    offset += call.length;
    assert.equal(decodeReply(whole, decodeHooks(), offset, end(reply)), 4);
    const value = takeReplyValue() as Buffer;
    assert.ok(Buffer.isBuffer(value));
    assert.deepEqual(value, Buffer.alloc(64, 9));
    offset += reply.length;
    assert.deepStrictEqual(decodeCall(whole, decodeHooks(), offset, end(invoke)), decodeCall(invoke, decodeHooks()));
    assert.equal(offset + invoke.length, read.byteOffset + read.length);
  });

  it('fail, as the frame alone fails, when a message is cut short before the next frame', () => {
    const next = encode({ kind: Kind.Reply, id: 1, value: 1 });
    for (const frame of [
      encode({ kind: Kind.Call, target: 1, method: 'm', args: [1], id: 300 }),
      encode({ kind: Kind.Reply, id: 2, value: 'abc' }),
    ]) {
      for (let cut = 1; cut < frame.length; cut++) {
        const short = frame.subarray(0, frame.length - cut);
        const read = Buffer.concat([short, frame.subarray(short.length), next]);
        const whole = wholeView(read.buffer);
        const start = read.byteOffset;
        const end = start + short.length;
        const alone = (f: () => unknown) => {
          try {
            return f();
          } catch {
            return 'threw';
          }
        };
        const inPlace = alone(() => [
          decodeReply(whole, decodeHooks(), start, end),
          decodeCall(whole, decodeHooks(), start, end),
        ]);
        const general = alone(() => decodeCbor(short, decodeHooks()));
        assert.equal(general, 'threw');
        // Not read as a message: refused here, or left to the general decoder, which refuses it.
        assert.ok(inPlace === 'threw' || ((inPlace as unknown[])[0] === -1 && (inPlace as unknown[])[1] === undefined));
      }
    }
  });
});

/** The message as a caller builds it: a fresh object with the fields in their usual order. */
function structuredCloneable(message: Record<string, unknown>): Parameters<typeof encodeCall>[0] {
  return { ...message } as Parameters<typeof encodeCall>[0];
}
