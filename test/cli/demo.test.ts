// runtable demo plays the seed scenario as npm run demo does, from the built command.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ensureBuilt, runCli } from './run-cli.ts';

before(ensureBuilt);

test('runtable demo registers three targets, sends to each, and drops the killed one', async () => {
  const result = await runCli(['demo'], '/nonexistent-runtable-dir', { NO_COLOR: '1' });
  assert.equal(result.code, 0, result.stderr);
  for (const name of ['alpha', 'beta', 'gamma']) {
    assert.match(result.stdout, new RegExp(`watcher: registered SampleServer/${name}`));
    assert.match(result.stdout, new RegExp(`${name} holds \\["hello from SourceApp"\\]`));
  }
  assert.match(result.stdout, /watcher: revoked SampleServer\/beta after [\d.]+ ms/);
  assert.match(result.stdout, /the table now: SampleServer\/alpha, SampleServer\/gamma$/m);
  assert.match(result.stdout, /done: targets stopped, broker stopped, table removed/);
});
