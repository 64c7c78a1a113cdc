// When a busy socket writes its tick's frames (transport/write-pacing.ts): at the tick's end, or
// the first ones in slices of 16, whichever measured faster, probing the other way now and then;
// one call at a time is never sliced; and frames written in slices arrive intact and in order.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { EARLY_FRAMES, EARLY_FRAMES_MAX, PROBE_FRAMES, WritePacing } from '../../src/transport/write-pacing.ts';
import { framedAt, framedStart } from '../../src/wire/cbor-encode.ts';
import { encode, encodeReply } from '../../src/wire/codec.ts';
import { Kind } from '../../src/wire/protocol.ts';
import { socketPairsPerTest } from './socket-pair.ts';

/** A pacing on a clock that advances by `msPerFrame(early)` for each frame of a tick. */
function paced(msPerFrame: (early: boolean) => number) {
  let clock = 0;
  const pacing = new WritePacing(() => clock);
  const ways: boolean[] = [];
  const tick = (frames: number) => {
    clock += frames * msPerFrame(pacing.early);
    ways.push(pacing.early);
    pacing.tickEnded(frames);
  };
  return { pacing, ways, tick };
}

/** The share of ticks written early among the last `n`. */
const earlyShare = (ways: boolean[], n: number) => ways.slice(-n).filter(Boolean).length / n;

describe('write pacing', () => {
  it('keeps writing at the tick end where slices are slower, probing them now and then', () => {
    const { ways, tick } = paced((early) => (early ? 0.004 : 0.002));
    for (let i = 0; i < 20_000; i++) tick(64);
    assert.ok(ways.some(Boolean), 'the early way was probed');
    const share = earlyShare(ways, 10_000);
    assert.ok(share > 0 && share < 0.1, `early in ${share} of the ticks`);
  });

  it('takes the slices where they are faster, and goes back when they no longer are', () => {
    let sliceMs = 0.001;
    const { ways, tick } = paced((early) => (early ? sliceMs : 0.002));
    for (let i = 0; i < 20_000; i++) tick(64);
    assert.ok(earlyShare(ways, 10_000) > 0.9, 'mostly early');
    sliceMs = 0.004;
    for (let i = 0; i < 20_000; i++) tick(64);
    assert.ok(earlyShare(ways, 10_000) < 0.1, 'mostly at the end again');
  });

  it('never starts measuring on ticks too small to slice, nor counts a window that stood idle', () => {
    const small = paced(() => 0.0001);
    for (let i = 0; i < 100_000; i++) small.tick(EARLY_FRAMES - 1);
    assert.equal(small.ways.some(Boolean), false);
    assert.equal(small.pacing.early, false);
    // Busy ticks far apart: every window takes longer than a window may, so none is measured.
    let clock = 0;
    const idle = new WritePacing(() => clock);
    for (let i = 0; i < 100_000; i++) {
      clock += 5;
      idle.tickEnded(64);
      assert.equal(idle.early, false);
    }
  });
});

describe('a tick written in slices over a Unix socket', () => {
  const pairs = socketPairsPerTest(1 << 20);

  it('arrives whole and in order, in more writes than ticks once the slices are probed', async () => {
    const [a, b] = await pairs.open('unix');
    const ticks = 1000;
    const perTick = 64;
    const expected: Buffer[] = [];
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      b.onFrame = (frame) => {
        received.push(Buffer.from(frame));
        if (received.length === ticks * perTick) resolve();
      };
    });
    // Counts the sending side's writes: a tick at its end is one, a sliced one more.
    let writes = 0;
    const write = net.Socket.prototype.write;
    net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
      writes++;
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof write;
    try {
      for (let t = 0; t < ticks; t++) {
        for (let i = 0; i < perTick; i++) {
          const id = t * perTick + i + 1;
          const length = encodeReply(id, `value ${id}`, undefined, true) as number;
          expected.push(Buffer.from(encode({ kind: Kind.Reply, id, value: `value ${id}` })));
          a.sendFramed?.(framedAt(), framedStart(), length);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      await done;
    } finally {
      net.Socket.prototype.write = write;
    }
    assert.equal(received.length, expected.length);
    for (let i = 0; i < expected.length; i++) assert.ok(received[i]?.equals(expected[i] as Buffer), `frame ${i}`);
    // The first probe comes after four windows of 4096 frames: at least one probe was sliced,
    // each of its ticks written in EARLY_FRAMES_MAX / EARLY_FRAMES + 1 pieces.
    assert.ok(writes >= ticks + (PROBE_FRAMES / perTick) * (EARLY_FRAMES_MAX / EARLY_FRAMES), `${writes} writes`);
    a.close();
    b.close();
  });
});
