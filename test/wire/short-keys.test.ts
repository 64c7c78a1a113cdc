// Short map keys come from a cache of the strings already seen: whatever the keys, and however
// they collide in it, a decoded map must hold exactly the keys that were sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode } from '../../src/wire/codec.ts';

describe('short map keys', () => {
  it('decodes thousands of distinct keys, of every short length, as sent', () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5000; i++) {
        const key = `k${i.toString(36)}`.padEnd(1 + (i % 12), 'x').slice(0, 1 + (i % 12));
        const sent = { [key]: i, [`${key}y`]: -i - 1, kind: 30 };
        assert.deepStrictEqual(decode(encode(sent)), sent);
      }
    }
  });

  it('leaves keys that are not ASCII, empty or long to the full decoder', () => {
    const sent = { '': 0, é: 1, ÿÿ: 2, 'twelve chars': 3, 'thirteen char': 4, '€uro': 5 };
    assert.deepStrictEqual(decode(encode(sent)), sent);
  });

  it('refuses a map whose key runs past the end of the data', () => {
    const bytes = Buffer.from(encode({ method: 1 }));
    assert.throws(() => decode(bytes.subarray(0, 6)), /end of the data|unexpected end/);
  });
});
