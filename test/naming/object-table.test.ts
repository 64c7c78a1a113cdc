import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RuntableError } from '../../src/errors.ts';
import { ObjectTable } from '../../src/naming/object-table.ts';
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
    assert.equal(result.entry, a);
    assert.equal(result.replaced, undefined);
    assert.equal(table.lookup('X/a'), a);
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
    assert.equal(table.lookup('X/a'), first);
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
    assert.equal(result.entry, fresh);
    assert.equal(table.lookup('X/a'), fresh);
    assert.deepEqual(watch.events, ['revoked X/a', 'registered X/a']);
    assert.equal(watch.entries[0], old);
    assert.equal(watch.entries[1], fresh);
    assert.equal(table.ownedBy(1), 0);
    assert.equal(table.ownedBy(2), 1);
    assert.equal(table.size, 1);
    assert.deepEqual(monikers(table.list('')), ['X/a']);
    // The old owner can no longer revoke or touch it, and leaving takes nothing with it.
    assert.equal(table.revoke(1, 'X/a'), undefined);
    assert.deepEqual(table.revokeOwner(1), []);
    assert.equal(table.lookup('X/a'), fresh);
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
    assert.equal(table.revoke(2, 'X/a'), undefined);
    assert.equal(table.lookup('X/a'), a);
    assert.deepEqual(watch.events, []);
    assert.equal(table.revoke(1, 'X/missing'), undefined);
    assert.equal(table.revoke(1, 'X/a'), a);
    assert.equal(table.lookup('X/a'), undefined);
    assert.deepEqual(watch.events, ['revoked X/a']);
    assert.equal(table.revoke(1, 'X/a'), undefined, 'a second revoke finds nothing');
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
    const revoked = table.revokeOwner(1);
    assert.deepEqual(monikers(revoked).sort(), ['A/1', 'A/2', 'B/1']);
    assert.deepEqual(monikers(table.list('')), ['A/3', 'C/1']);
    assert.equal(table.ownedBy(1), 0);
    assert.equal(table.ownedBy(2), 2);
    assert.deepEqual([...a.events].sort(), ['revoked A/1', 'revoked A/2']);
    assert.deepEqual(b.events, ['revoked B/1']);
    assert.deepEqual(c.events, []);
    assert.equal(all.events.length, 3);
    assert.deepEqual(table.revokeOwner(1), [], 'a second revokeOwner finds nothing');
    assert.deepEqual(table.revokeOwner(99), []);
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
    assert.equal(table.lookup('X/a'), touched);
    assert.deepEqual(table.list('X/'), [touched]);
    const later = new Date(9_000);
    const retouched = table.touch(1, 'X/a', later, { n: 2 });
    assert.deepEqual(retouched.metadata, { n: 2 });
    assert.deepEqual(table.lookup('X/a')?.changedAt, later);
    assert.deepEqual(watch.events, ['changed X/a', 'changed X/a']);
    assert.equal(watch.entries[1], retouched);
    assert.deepEqual(other.events, []);
  });

  it('touch by a non-owner, or of a missing moniker, is NOT_REGISTERED and changes nothing', () => {
    const table = new ObjectTable();
    const a = entry('X/a', 1);
    table.register(1, a);
    const watch = record(table, '');
    assert.throws(() => table.touch(2, 'X/a', new Date(9_999)), hasCode('NOT_REGISTERED'));
    assert.throws(() => table.touch(1, 'X/none', new Date(9_999)), hasCode('NOT_REGISTERED'));
    assert.equal(table.lookup('X/a'), a);
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
