// A proxy is safe to touch like any value, and no promise a program could not observe rejects
// unhandled: a real client process (test/fixtures/untouchable.ts), with Node's default crash on
// unhandled rejections, uses proxies, one-way calls, subscriptions, streams and references
// carelessly, through its owner's SIGKILL, and must end cleanly without a warning.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { cleanup, spawnFixture, tempTableDir } from '../helpers.ts';
import { startRich } from './rich-service.ts';

let dir: string;
beforeEach(() => {
  dir = tempTableDir();
});
afterEach(async () => {
  await cleanup(dir);
});

test('a careless client neither crashes nor warns, and never calls a proxy it only looked at', async () => {
  const owner = await startRich(dir, 'Rich/a');
  const client = spawnFixture('untouchable', ['Rich/a'], dir);
  let stderr = '';
  client.child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  await client.waitForLine(/^phase1$/, 60_000);
  assert.doesNotMatch(owner.stderr(), /Unhandled|Error/, 'the owner sent bad results and carried on');
  owner.child.kill('SIGKILL');
  const code = await client.exited;
  assert.equal(stderr, '', 'nothing on stderr');
  assert.equal(code, 0, `the client ended cleanly; its output:\n${client.lines.join('\n')}`);
  assert.deepEqual(
    client.lines.filter((line) => line.startsWith('warning')),
    [],
  );
  const done = client.lines.find((line) => line.startsWith('done '));
  assert.ok(done, 'the client finished');
  const { seen, caught } = JSON.parse(done.slice('done '.length)) as {
    seen: Record<string, unknown[]>;
    caught: Record<string, string>;
  };
  const label = '[Remote Rich/a]';
  assert.deepEqual(seen.live, [
    label,
    `srv ${label}`,
    label,
    null, // NaN, as JSON writes it
    false,
    label,
    `${label} "${label}"`,
    `{"p":"${label}"}`,
    '[object Remote]',
    label,
  ]);
  assert.deepEqual(seen.gone, seen.live, 'the same once its owner is gone');
  assert.equal((seen.nobody as unknown[])[0], '[Remote Nobody/here]');
  assert.match((seen.ref as string[])[0] as string, /^\[Remote reference \d+ from pid \d+\]$/);
  // Bad results and weird failures reach the caller as errors of their own.
  assert.match(
    caught.badResult ?? '',
    /^BAD_ARGUMENT the result of badResult cannot be sent: value\.user\.session is a Promise/,
  );
  assert.match(caught.weirdThrow ?? '', /^REMOTE weirdThrow threw a value that cannot be described/);
  assert.match(caught.badItems ?? '', /^BAD_ARGUMENT .*WeakMap/);
  assert.match(caught.weirdStream ?? '', /^REMOTE the stream failed; its error cannot be sent/);
  assert.match(caught.inFlight ?? '', /^OBJECT_GONE /);
  // The console.log lines of the proxies themselves.
  assert.ok(client.lines.includes(label));
});
