import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectTable } from '../../src/broker/table.ts';
import { RuntableError } from '../../src/errors.ts';
import { unpackEntries } from '../../src/naming/entry-batch.ts';
import { joined } from '../../src/wire/cbor-encode.ts';
import { decode, encode, encodeReply } from '../../src/wire/codec.ts';
import type { TableEventType, WireEntry } from '../../src/wire/protocol.ts';

let nextObject = 1;

function entry(moniker: string, owner = 1, at = new Date(1_000)): WireEntry {
  return {
    moniker,
    pid: 1000 + owner,
    endpoint: `/tmp/rt-test/o${1000 + owner}-1.sock`,
    object: nextObject++,
    methods: ['m'],
    metadata: {},
    registeredAt: at,
    changedAt: at,
  };
}

/** Records every event a watcher sees, as "type moniker". */
function record(table: ObjectTable, prefix: string): { events: string[]; entries: WireEntry[]; stop: () => void } {
  const events: string[] = [];
  const entries: WireEntry[] = [];
  const stop = table.watch(prefix, (type: TableEventType, e: WireEntry) => {
    events.push(`${type} ${e.moniker}`);
    entries.push(e);
  });
  return { events, entries, stop };
}

/** What revokeOwner returns for an owner with nothing left. */
const NOTHING = { revoked: [], promoted: [], left: [] };

function monikers(entries: WireEntry[]): string[] {
  return entries.map((e) => e.moniker);
}

function hasCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof RuntableError);
    assert.equal(error.code, code);
    return true;
  };
}

describe('ObjectTable', () => {
  it('registers, looks up and counts entries', () => {
    const table = new ObjectTable();
    const a = entry('X/a');
    const result = table.register(1, a);
    assert.deepEqual(result.entry, a);
    assert.equal(result.replaced, undefined);
    assert.deepEqual(table.lookup('X/a'), a);
    assert.equal(table.lookup('X/b'), undefined);
    assert.equal(table.lookup('X/'), undefined, 'lookup is exact, not by prefix');
    assert.equal(table.size, 1);
    assert.equal(table.ownedBy(1), 1);
    assert.equal(table.ownedBy(2), 0);
  });

  it('lists by prefix with exact boundaries, in sorted order', () => {
    const table = new ObjectTable();
    for (const name of ['ab', 'a/b', 'a/', 'a', 'a/b/c', 'a/c', 'b', 'a0', 'A/x', 'a/bb', 'a.']) {
      table.register(1, entry(name));
    }
    assert.deepEqual(monikers(table.list('a/')), ['a/', 'a/b', 'a/b/c', 'a/bb', 'a/c']);
    assert.deepEqual(monikers(table.list('a/b')), ['a/b', 'a/b/c', 'a/bb']);
    assert.deepEqual(monikers(table.list('a/b/')), ['a/b/c']);
    assert.deepEqual(monikers(table.list('ab')), ['ab']);
    assert.deepEqual(monikers(table.list('a')), ['a', 'a.', 'a/', 'a/b', 'a/b/c', 'a/bb', 'a/c', 'a0', 'ab']);
    assert.deepEqual(monikers(table.list('A')), ['A/x'], 'prefixes are case-sensitive');
    assert.deepEqual(monikers(table.list('c')), []);
    assert.deepEqual(monikers(table.list('ab/')), []);
    assert.deepEqual(monikers(table.list('zzz')), []);
    const all = monikers(table.list(''));
    assert.equal(all.length, 11, 'the empty prefix lists everything');
    assert.deepEqual(all, [...all].sort());
  });

  it('packs for List exactly the entries it lists, with their dates, at every boundary', () => {
    const table = new ObjectTable();
    const names = ['ab', 'a/b', 'a/', 'a', 'a/b/c', 'a/c', 'b', 'a0', 'A/x', 'a/bb', 'a.', 'é/1', '日本/x', '🎉'];
    names.forEach((name, i) => {
      // Dates before 1970, within 32 bits of ms, and of today: each form the codec writes.
      const at = new Date([-5, 1_000, 1_700_000_000_123][i % 3] as number);
      table.register(1 + (i % 2), entry(name, 1 + (i % 2), at));
    });
    table.touch(2, 'a/b', new Date(1_800_000_000_456), { n: 1 });
    for (const prefix of [
      '',
      'a',
      'a/',
      'a/b',
      'a/b/',
      'ab',
      'ab/',
      'A',
      'b',
      'c',
      'zzz',
      'é',
      '日本',
      '🎉',
      '\u{10ffff}',
    ]) {
      const packed = unpackEntries(decode(encode(table.pack(prefix))));
      assert.deepEqual(packed, table.list(prefix), `prefix ${JSON.stringify(prefix)}`);
    }
    assert.equal(unpackEntries(decode(encode(table.pack('')))).length, names.length);
  });

  it('writes each batch into the buffer of the last one; a reply encoded before keeps its bytes', () => {
    const table = new ObjectTable();
    // Enough rows that the reply's rows leave the encoder's block as a part (SPLIT_BYTES).
    for (let i = 0; i < 2000; i++) table.register(1 + (i % 3), entry(`big/${String(i).padStart(5, '0')}`));
    for (let i = 0; i < 5; i++) table.register(4, entry(`small/${i}`));
    const answer = (prefix: string) => Buffer.from(joined(encodeReply(7, table.pack(prefix))));
    const big = joined(encodeReply(7, table.pack('big/')));
    const bigBytes = Buffer.from(big);
    const small = answer('small/');
    // The buffer is written again (smaller, then larger): the replies encoded before keep theirs.
    const again = answer('big/');
    assert.deepEqual(Buffer.from(big), bigBytes);
    assert.deepEqual(again, bigBytes);
    const rows = (bytes: Buffer) => unpackEntries((decode(bytes) as { value: unknown }).value);
    assert.deepEqual(rows(small), table.list('small/'));
    assert.deepEqual(rows(again), table.list('big/'));
    assert.deepEqual(rows(answer('')), table.list(''));
  });

  it('sorts by code unit, including non-ASCII monikers', () => {
    const table = new ObjectTable();
    const names = ['é/1', 'e/1', '日本/x', 'z', '🎉', 'É', 'e/2'];
    for (const name of names) table.register(1, entry(name));
    assert.deepEqual(monikers(table.list('')), [...names].sort());
    assert.deepEqual(monikers(table.list('e/')), ['e/1', 'e/2']);
    assert.deepEqual(monikers(table.list('日本')), ['日本/x']);
  });

  it('refuses a live moniker with ALREADY_REGISTERED and keeps the first owner', () => {
    const table = new ObjectTable();
    const first = entry('X/a', 1);
    table.register(1, first);
    const watch = record(table, '');
    assert.throws(() => table.register(2, entry('X/a', 2)), hasCode('ALREADY_REGISTERED'));
    assert.throws(() => table.register(1, entry('X/a', 1)), hasCode('ALREADY_REGISTERED'));
    assert.deepEqual(table.lookup('X/a'), first);
    assert.equal(table.ownedBy(2), 0);
    assert.deepEqual(watch.events, [], 'a refused register notifies nobody');
  });

  it('replace hands the moniker over, returns the replaced owner, and watchers see revoked then registered', () => {
    const table = new ObjectTable();
    const old = entry('X/a', 1);
    table.register(1, old);
    const watch = record(table, 'X/');
    const fresh = entry('X/a', 2);
    const result = table.register(2, fresh, { replace: true });
    assert.deepEqual(result.replaced, { owner: 1, entry: old });
    assert.deepEqual(result.entry, fresh);
    assert.deepEqual(table.lookup('X/a'), fresh);
    assert.deepEqual(watch.events, ['revoked X/a', 'registered X/a']);
    assert.deepEqual(watch.entries[0], old);
    assert.deepEqual(watch.entries[1], fresh);
    assert.equal(table.ownedBy(1), 0);
    assert.equal(table.ownedBy(2), 1);
    assert.equal(table.size, 1);
    assert.deepEqual(monikers(table.list('')), ['X/a']);
    // The old owner can no longer revoke or touch it, and leaving takes nothing with it.
    assert.deepEqual(table.revoke(1, 'X/a'), {});
    assert.deepEqual(table.revokeOwner(1), NOTHING);
    assert.deepEqual(table.lookup('X/a'), fresh);
  });

  it('replace of a free moniker simply registers', () => {
    const table = new ObjectTable();
    const result = table.register(1, entry('free'), { replace: true });
    assert.equal(result.replaced, undefined);
    assert.equal(table.size, 1);
  });

  it('revokes only for the owner', () => {
    const table = new ObjectTable();
    const a = entry('X/a', 1);
    table.register(1, a);
    const watch = record(table, '');
    assert.deepEqual(table.revoke(2, 'X/a'), {});
    assert.deepEqual(table.lookup('X/a'), a);
    assert.deepEqual(watch.events, []);
    assert.deepEqual(table.revoke(1, 'X/missing'), {});
    assert.deepEqual(table.revoke(1, 'X/a'), { revoked: a });
    assert.equal(table.lookup('X/a'), undefined);
    assert.deepEqual(watch.events, ['revoked X/a']);
    assert.deepEqual(table.revoke(1, 'X/a'), {}, 'a second revoke finds nothing');
    assert.equal(table.size, 0);
    assert.deepEqual(table.list(''), []);
    table.register(2, entry('X/a', 2));
    assert.equal(table.lookup('X/a')?.pid, 1002, 'the moniker is free again');
  });

  it('revokeOwner removes all of one owner and notifies only watchers of matching prefixes', () => {
    const table = new ObjectTable();
    for (const name of ['A/1', 'A/2', 'B/1']) table.register(1, entry(name, 1));
    for (const name of ['A/3', 'C/1']) table.register(2, entry(name, 2));
    const a = record(table, 'A/');
    const b = record(table, 'B/');
    const c = record(table, 'C/');
    const all = record(table, '');
    const { revoked } = table.revokeOwner(1);
    assert.deepEqual(monikers(revoked).sort(), ['A/1', 'A/2', 'B/1']);
    assert.deepEqual(monikers(table.list('')), ['A/3', 'C/1']);
    assert.equal(table.ownedBy(1), 0);
    assert.equal(table.ownedBy(2), 2);
    assert.deepEqual([...a.events].sort(), ['revoked A/1', 'revoked A/2']);
    assert.deepEqual(b.events, ['revoked B/1']);
    assert.deepEqual(c.events, []);
    assert.equal(all.events.length, 3);
    assert.deepEqual(table.revokeOwner(1), NOTHING, 'a second revokeOwner finds nothing');
    assert.deepEqual(table.revokeOwner(99), NOTHING);
    table.register(1, entry('A/1', 1));
    assert.equal(table.ownedBy(1), 1, 'the owner id can register again');
  });

  it('touch updates changedAt and metadata and notifies changed', () => {
    const table = new ObjectTable();
    const registeredAt = new Date(1_000);
    table.register(1, { ...entry('X/a'), metadata: { n: 1 }, registeredAt, changedAt: registeredAt });
    const watch = record(table, 'X/');
    const other = record(table, 'Y/');
    const now = new Date(5_000);
    const touched = table.touch(1, 'X/a', now);
    assert.deepEqual(touched.changedAt, now);
    assert.deepEqual(touched.registeredAt, registeredAt);
    assert.deepEqual(touched.metadata, { n: 1 }, 'metadata kept without a new one');
    assert.deepEqual(table.lookup('X/a'), touched);
    assert.deepEqual(table.list('X/'), [touched]);
    const later = new Date(9_000);
    const retouched = table.touch(1, 'X/a', later, { n: 2 });
    assert.deepEqual(retouched.metadata, { n: 2 });
    assert.deepEqual(table.lookup('X/a')?.changedAt, later);
    assert.deepEqual(watch.events, ['changed X/a', 'changed X/a']);
    assert.deepEqual(watch.entries[1], retouched);
    assert.deepEqual(other.events, []);
  });

  it('touch by a non-owner, or of a missing moniker, is NOT_REGISTERED and changes nothing', () => {
    const table = new ObjectTable();
    const a = entry('X/a', 1);
    table.register(1, a);
    const watch = record(table, '');
    assert.throws(() => table.touch(2, 'X/a', new Date(9_999)), hasCode('NOT_REGISTERED'));
    assert.throws(() => table.touch(1, 'X/none', new Date(9_999)), hasCode('NOT_REGISTERED'));
    assert.deepEqual(table.lookup('X/a'), a);
    assert.deepEqual(a.changedAt, new Date(1_000));
    assert.deepEqual(watch.events, []);
  });

  it('watchers see register events for their prefix only, and stop when unsubscribed', () => {
    const table = new ObjectTable();
    const a = record(table, 'a/');
    const ab = record(table, 'ab');
    assert.equal(table.watcherCount, 2);
    table.register(1, entry('a/x'));
    table.register(1, entry('ab'));
    table.register(1, entry('a'));
    assert.deepEqual(a.events, ['registered a/x']);
    assert.deepEqual(ab.events, ['registered ab']);
    a.stop();
    assert.equal(table.watcherCount, 1);
    table.register(1, entry('a/y'));
    table.revoke(1, 'a/x');
    assert.deepEqual(a.events, ['registered a/x'], 'no events after unsubscribe');
    a.stop();
    assert.equal(table.watcherCount, 1, 'a second unsubscribe is harmless');
    ab.stop();
    assert.equal(table.watcherCount, 0);
  });

  it('with 10,000 entries, a prefix lists exactly the matching ones', () => {
    const table = new ObjectTable();
    const expected: string[] = [];
    const ownerOf = new Map<string, number>();
    // Insert in a scrambled order so the index has to sort; 7919 is prime to 10,000, so names are unique.
    for (let i = 0; i < 10_000; i++) {
      const name = `svc${i % 7}/item${String((i * 7919) % 10_000).padStart(5, '0')}`;
      ownerOf.set(name, (i % 3) + 1);
      table.register((i % 3) + 1, entry(name));
      if (name.startsWith('svc3/')) expected.push(name);
    }
    assert.equal(table.size, 10_000);
    expected.sort();
    const listed = monikers(table.list('svc3/'));
    assert.equal(listed.length, Math.ceil((10_000 - 3) / 7));
    assert.deepEqual(listed, expected);
    assert.deepEqual(
      monikers(table.list('svc3/item0')),
      expected.filter((n) => n.startsWith('svc3/item0')),
    );
    assert.equal(table.list('').length, 10_000);
    assert.deepEqual(table.list('svc7/'), []);
    // Removing one owner's share keeps the rest exact.
    table.revokeOwner(1);
    const remaining = monikers(table.list('svc3/'));
    assert.deepEqual(
      remaining,
      expected.filter((name) => ownerOf.get(name) !== 1),
    );
    assert.deepEqual(remaining, [...remaining].sort());
  });
});

describe('ObjectTable line of would-be owners (queue)', () => {
  /** A table whose clock reads 10_000, 20_000, ... ms, one tick per promotion. */
  function clockedTable(): { table: ObjectTable; ticks: Date[] } {
    const ticks: Date[] = [];
    const table = new ObjectTable({
      now: () => {
        const now = new Date((ticks.length + 1) * 10_000);
        ticks.push(now);
        return now;
      },
    });
    return { table, ticks };
  }

  it('queue on a free moniker registers at once', () => {
    const { table } = clockedTable();
    const a = entry('Q/a', 1);
    const result = table.register(1, a, { queue: true });
    assert.deepEqual(result.entry, a);
    assert.equal(result.queued, undefined);
    assert.deepEqual(table.lookup('Q/a'), a);
    assert.equal(table.queuedBy(1), 0);
  });

  it('five queued owners wait in arrival order and are promoted one after each revoke', () => {
    const { table, ticks } = clockedTable();
    const holder = entry('Q/a', 1);
    table.register(1, holder);
    const watch = record(table, 'Q/');
    const claims = [2, 3, 4, 5, 6].map((owner) => entry('Q/a', owner));
    claims.forEach((claim, i) => {
      const result = table.register(i + 2, claim, { queue: true });
      assert.equal(result.queued, i + 1, `owner ${i + 2} is number ${i + 1} in line`);
      assert.equal(result.entry, undefined);
    });
    assert.deepEqual(watch.events, [], 'waiting in line is not an event');
    assert.deepEqual(table.lookup('Q/a'), holder);
    assert.equal(table.size, 1);
    assert.deepEqual(
      table.line('Q/a').map((c) => c.owner),
      [2, 3, 4, 5, 6],
    );
    assert.equal(table.ownedBy(2), 0);
    assert.equal(table.queuedBy(2), 1);

    let current = holder;
    let currentOwner = 1;
    for (const [i, claim] of claims.entries()) {
      const result = table.revoke(currentOwner, 'Q/a');
      assert.deepEqual(result.revoked, current);
      assert.ok(result.promoted, `a promotion after revoke ${i + 1}`);
      const { owner, entry: promoted } = result.promoted;
      assert.equal(owner, i + 2, 'promoted in queue order');
      assert.deepEqual(promoted, { ...claim, registeredAt: ticks[i], changedAt: ticks[i] });
      assert.deepEqual(table.lookup('Q/a'), promoted);
      assert.equal(table.ownedBy(owner), 1);
      assert.equal(table.queuedBy(owner), 0);
      assert.equal(table.line('Q/a').length, claims.length - i - 1);
      // Watchers see the old entry go, then the new one come.
      assert.deepEqual(watch.events.slice(-2), ['revoked Q/a', 'registered Q/a']);
      assert.deepEqual(watch.entries.at(-2), current);
      assert.deepEqual(watch.entries.at(-1), promoted);
      current = promoted;
      currentOwner = owner;
    }
    assert.equal(watch.events.length, 10);
    // The line is empty: the last owner's revoke frees the moniker.
    assert.deepEqual(table.revoke(6, 'Q/a'), { revoked: current });
    assert.equal(table.lookup('Q/a'), undefined);
    assert.equal(table.size, 0);
    assert.deepEqual(watch.events.slice(-1), ['revoked Q/a']);
  });

  it('a queued owner that revokes or disconnects leaves the line; the next one is promoted instead', () => {
    const { table } = clockedTable();
    table.register(1, entry('Q/a', 1));
    for (const owner of [2, 3, 4, 5]) table.register(owner, entry('Q/a', owner), { queue: true });
    const watch = record(table, '');

    const left = table.revoke(3, 'Q/a');
    assert.equal(left.left?.owner, 3);
    assert.equal(left.left?.entry.moniker, 'Q/a');
    assert.equal(left.revoked, undefined);
    assert.equal(left.promoted, undefined);
    assert.deepEqual(table.revoke(3, 'Q/a'), {}, 'a second revoke finds nothing');
    assert.equal(table.queuedBy(3), 0);

    const gone = table.revokeOwner(2);
    assert.deepEqual(
      gone.left.map((c) => [c.owner, c.entry.moniker]),
      [[2, 'Q/a']],
    );
    assert.deepEqual(gone.revoked, []);
    assert.deepEqual(gone.promoted, []);
    assert.deepEqual(watch.events, [], 'leaving the line is not an event');
    assert.deepEqual(
      table.line('Q/a').map((c) => c.owner),
      [4, 5],
    );

    assert.equal(table.revoke(1, 'Q/a').promoted?.owner, 4);
    assert.equal(table.lookup('Q/a')?.pid, 1004);
    // The owner that left can join again, at the back.
    assert.equal(table.register(2, entry('Q/a', 2), { queue: true }).queued, 2);
    assert.deepEqual(
      table.line('Q/a').map((c) => c.owner),
      [5, 2],
    );
  });

  it('revokeOwner hands each of its monikers to the first in its line and leaves its own lines', () => {
    const { table, ticks } = clockedTable();
    table.register(1, entry('A/1', 1));
    table.register(1, entry('B/1', 1));
    table.register(1, entry('C/1', 1));
    table.register(2, entry('A/1', 2), { queue: true });
    table.register(3, entry('A/1', 3), { queue: true });
    table.register(3, entry('B/1', 3), { queue: true });
    // Owner 1 also waits for a moniker of owner 4.
    table.register(4, entry('D/1', 4));
    table.register(1, entry('D/1', 1), { queue: true });
    assert.equal(table.queuedBy(3), 2);
    const watch = record(table, '');

    const result = table.revokeOwner(1);
    assert.deepEqual(monikers(result.revoked).sort(), ['A/1', 'B/1', 'C/1']);
    assert.deepEqual(result.promoted.map((c) => [c.owner, c.entry.moniker]).sort(), [
      [2, 'A/1'],
      [3, 'B/1'],
    ]);
    assert.deepEqual(
      result.left.map((c) => [c.owner, c.entry.moniker]),
      [[1, 'D/1']],
    );
    for (const promoted of result.promoted) {
      assert.ok(ticks.some((t) => t.getTime() === promoted.entry.registeredAt.getTime()));
      assert.equal(promoted.entry.changedAt, promoted.entry.registeredAt);
    }
    assert.equal(table.lookup('A/1')?.pid, 1002);
    assert.equal(table.lookup('B/1')?.pid, 1003);
    assert.equal(table.lookup('C/1'), undefined);
    assert.equal(table.lookup('D/1')?.pid, 1004);
    assert.deepEqual(table.line('D/1'), []);
    assert.deepEqual(
      table.line('A/1').map((c) => c.owner),
      [3],
      'owner 3 still waits for A/1 while it holds B/1',
    );
    // Per moniker, the old entry goes before the new one comes.
    for (const moniker of ['A/1', 'B/1']) {
      assert.deepEqual(
        watch.events.filter((e) => e.endsWith(` ${moniker}`)),
        [`revoked ${moniker}`, `registered ${moniker}`],
      );
    }
    assert.deepEqual(
      watch.events.filter((e) => e.endsWith(' C/1')),
      ['revoked C/1'],
    );
    assert.equal(watch.events.length, 5);
    assert.equal(table.ownedBy(1), 0);
    assert.equal(table.queuedBy(1), 0);
  });

  it('replace takes over from the holder only: the line stays and comes next', () => {
    const { table } = clockedTable();
    const old = entry('Q/a', 1);
    table.register(1, old);
    table.register(2, entry('Q/a', 2), { queue: true });
    table.register(3, entry('Q/a', 3), { queue: true });
    const watch = record(table, 'Q/');
    const taker = entry('Q/a', 9);
    const result = table.register(9, taker, { replace: true });
    assert.deepEqual(result.replaced, { owner: 1, entry: old });
    assert.deepEqual(watch.events, ['revoked Q/a', 'registered Q/a']);
    assert.deepEqual(watch.entries[1], taker);
    assert.deepEqual(
      table.line('Q/a').map((c) => c.owner),
      [2, 3],
    );
    assert.deepEqual(table.revoke(1, 'Q/a'), {}, 'the replaced holder has nothing left to revoke');
    assert.equal(table.revoke(9, 'Q/a').promoted?.owner, 2);
  });

  it('an owner is in a moniker once: as holder or in line', () => {
    const { table } = clockedTable();
    const held = entry('Q/a', 1);
    table.register(1, held);
    table.register(2, entry('Q/a', 2), { queue: true });
    const watch = record(table, '');
    assert.throws(() => table.register(2, entry('Q/a', 2), { queue: true }), hasCode('ALREADY_REGISTERED'));
    assert.throws(() => table.register(2, entry('Q/a', 2), { replace: true }), hasCode('ALREADY_REGISTERED'));
    assert.throws(() => table.register(1, entry('Q/a', 1), { queue: true }), hasCode('ALREADY_REGISTERED'));
    assert.equal(table.queuedBy(1), 0, 'the holder does not queue behind itself');
    assert.equal(table.line('Q/a').length, 1);
    // The holder registering the same object again is a repeat, answered with the entry as it is.
    const again = table.register(1, { ...held, registeredAt: new Date(77), metadata: { other: true } });
    assert.deepEqual(again.entry, held);
    assert.deepEqual(table.register(1, { ...held }, { queue: true }).entry, held);
    assert.deepEqual(watch.events, []);
    assert.deepEqual(table.lookup('Q/a'), held);
  });

  it('held claims wait even for a free moniker, behind its returning owner, until handOverFree', () => {
    const { table, ticks } = clockedTable();
    const watch = record(table, '');
    // After a broker restart: standbys come back before the owners do.
    assert.equal(table.register(2, entry('H/a', 2), { queue: true, hold: true }).queued, 1);
    assert.equal(table.register(3, entry('H/a', 3), { queue: true, hold: true }).queued, 2);
    assert.equal(table.register(4, entry('H/b', 4), { queue: true, hold: true }).queued, 1);
    assert.equal(table.lookup('H/a'), undefined);
    assert.equal(table.size, 0);
    // The owner of H/a comes back and takes its name; the line stays behind it.
    const back = entry('H/a', 1);
    assert.deepEqual(table.register(1, back).entry, back);
    assert.deepEqual(watch.events, ['registered H/a']);
    // H/b's owner never came back: the end of the grace hands it to its first claim.
    const promoted = table.handOverFree();
    assert.deepEqual(
      promoted.map((c) => [c.owner, c.entry.moniker]),
      [[4, 'H/b']],
    );
    assert.deepEqual(promoted[0]?.entry.registeredAt, ticks[0]);
    assert.deepEqual(table.lookup('H/a'), back);
    assert.equal(table.lookup('H/b')?.pid, 1004);
    assert.deepEqual(watch.events, ['registered H/a', 'registered H/b']);
    assert.deepEqual(table.handOverFree(), [], 'nothing left to hand over');
    assert.deepEqual(
      table.line('H/a').map((c) => c.owner),
      [2, 3],
    );
    assert.equal(table.revoke(1, 'H/a').promoted?.owner, 2);
    // A held claim can leave before the grace ends, like any other.
    table.register(5, entry('H/c', 5), { queue: true, hold: true });
    assert.equal(table.revoke(5, 'H/c').left?.owner, 5);
    assert.deepEqual(table.handOverFree(), []);
    assert.equal(table.lookup('H/c'), undefined);
  });

  it('monikers wait independently, and only watchers of the prefix hear of a promotion', () => {
    const { table } = clockedTable();
    table.register(1, entry('X/a', 1));
    table.register(1, entry('Y/a', 1));
    table.register(2, entry('X/a', 2), { queue: true });
    table.register(2, entry('Y/a', 2), { queue: true });
    const x = record(table, 'X/');
    const y = record(table, 'Y/');
    assert.equal(table.revoke(1, 'X/a').promoted?.owner, 2);
    assert.deepEqual(x.events, ['revoked X/a', 'registered X/a']);
    assert.deepEqual(y.events, []);
    assert.equal(table.queuedBy(2), 1);
    assert.equal(table.lookup('Y/a')?.pid, 1001);
  });
});
