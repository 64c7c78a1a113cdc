// The viewer's traffic: the monitor's records folded into counts per caller and moniker, with a
// bound on pairs and on failures kept whatever the traffic, idle pairs dropped, callbacks left out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallRecord } from 'runtable';
import { MAX_RECENT_ERRORS, MAX_TRAFFIC_PAIRS, TRAFFIC_IDLE_MS, Traffic } from '../../src/ui/traffic.ts';

function record(more: Partial<CallRecord>): CallRecord {
  return {
    moniker: 'A/x',
    method: 'echo',
    ownerPid: 10,
    callerPid: 20,
    ms: 0.1,
    outcome: 'ok',
    bytesIn: 10,
    bytesOut: 10,
    oneway: false,
    stream: false,
    items: 0,
    callback: false,
    endedAt: new Date(),
    missed: 0,
    ...more,
  };
}

test('calls are counted per caller and moniker, failures listed newest first, missed summed', () => {
  const traffic = new Traffic();
  traffic.add(record({}));
  traffic.add(record({ outcome: 'REMOTE', method: 'fail' }));
  traffic.add(record({ callerPid: 21, missed: 3 }));
  traffic.add(record({ callback: true, callerPid: 10, ownerPid: 20 }));
  const { pairs, errors, missed } = traffic.snapshot();
  assert.deepEqual(
    pairs.map((p) => [p.callerPid, p.ownerPid, p.moniker, p.calls, p.errors]),
    [
      [20, 10, 'A/x', 2, 1],
      [21, 10, 'A/x', 1, 0],
    ],
  );
  assert.deepEqual(
    errors.map((e) => [e.callerPid, e.method, e.outcome]),
    [[20, 'fail', 'REMOTE']],
  );
  assert.equal(missed, 3);
  assert.equal(traffic.forget('A/x'), true);
  assert.deepEqual(traffic.snapshot().pairs, []);
});

test('pairs and failures stay bounded whatever the traffic; the pair idle longest goes first', () => {
  const traffic = new Traffic();
  for (let pid = 0; pid < MAX_TRAFFIC_PAIRS + 50; pid++) {
    traffic.add(record({ callerPid: pid, outcome: 'REMOTE' }));
    // The first caller stays busy, so it is never the one to go.
    traffic.add(record({ callerPid: 0 }));
  }
  const { pairs, errors } = traffic.snapshot();
  assert.equal(pairs.length, MAX_TRAFFIC_PAIRS);
  assert.ok(pairs.some((p) => p.callerPid === 0));
  assert.ok(!pairs.some((p) => p.callerPid === 1), 'the idlest pair was dropped');
  assert.equal(errors.length, MAX_RECENT_ERRORS);
  assert.equal(errors[0]?.callerPid, MAX_TRAFFIC_PAIRS + 49, 'newest first');
});

test('a pair with no call for TRAFFIC_IDLE_MS is swept away', () => {
  const traffic = new Traffic();
  const now = Date.now();
  traffic.add(record({ callerPid: 1, endedAt: new Date(now - TRAFFIC_IDLE_MS - 1) }));
  traffic.add(record({ callerPid: 2, endedAt: new Date(now) }));
  assert.equal(traffic.sweep(now), true);
  assert.deepEqual(
    traffic.snapshot().pairs.map((p) => p.callerPid),
    [2],
  );
  assert.equal(traffic.sweep(now), false);
});
