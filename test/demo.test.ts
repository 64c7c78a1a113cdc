// The seed scenario end to end, exactly as `npm run demo` plays it.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanup, isAlive, spawnFixture, waitFor } from './helpers.ts';

after(() => cleanup());

test('the demo registers three targets, sends to each, and drops the killed one', async () => {
  // The demo makes its own table directory; RUNTABLE_DIR is overridden by it.
  const demo = spawnFixture('examples/demo.ts', [], '/nonexistent', { NO_COLOR: '1' });
  assert.equal(await demo.exited, 0, demo.lines.join('\n'));
  const out = demo.lines.join('\n');
  for (const name of ['alpha', 'beta', 'gamma']) {
    assert.match(out, new RegExp(`watcher: registered SampleServer/${name}`));
    assert.match(out, new RegExp(`target ${name} \\| \\[${name}\\] received: hello from SourceApp`));
    assert.match(out, new RegExp(`${name} holds \\["hello from SourceApp"\\]`));
  }
  assert.match(out, /source \| 3 live server\(s\):/);
  assert.match(out, /watcher: revoked SampleServer\/beta after [\d.]+ ms/);
  assert.match(out, /the table now: SampleServer\/alpha, SampleServer\/gamma$/m);

  // Nothing is left running: not the targets, not the broker.
  const brokerPid = Number(/broker pid (\d+)/.exec(out)?.[1]);
  const targetPids = [...out.matchAll(/watcher: registered SampleServer\/\w+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  assert.equal(targetPids.length, 3);
  await waitFor(() => [brokerPid, ...targetPids].every((pid) => !isAlive(pid)), 10_000, 'demo processes to exit');
});
