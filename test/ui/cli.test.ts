// `runtable ui` as a user runs it: the built command prints the viewer's URL, serves the page to
// that URL only, and stops cleanly on SIGTERM; a bad --port is a usage error.

import assert from 'node:assert/strict';
import { afterEach, before, beforeEach, test } from 'node:test';
import { ensureBuilt, runCli, startCli } from '../cli/run-cli.ts';
import { cleanup, tempTableDir } from '../helpers.ts';
import { ensurePage } from './page-build.ts';

let dir: string;

before(async () => {
  await ensureBuilt();
  ensurePage();
});

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  await cleanup(dir);
});

test('runtable ui prints a loopback URL with a token, serves it, refuses it without, and exits 0 on SIGTERM', async () => {
  const cli = startCli(['ui'], dir);
  try {
    const [line] = await cli.lines(1);
    const url = new URL(line as string);
    assert.equal(url.hostname, '127.0.0.1');
    assert.ok((url.searchParams.get('token') ?? '').length >= 32);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /runtable viewer/);
    const refused = await fetch(`${url.origin}/`);
    assert.equal(refused.status, 403);
    // With no broker running the viewer waits for one; it never starts one.
    const feed = await fetch(`${url.origin}/api/feed`, {
      headers: { cookie: `runtable-ui-${url.port}=${url.searchParams.get('token')}` },
    });
    const reader = (feed.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: status')) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.match(text, /"broker":null/);
    await reader.cancel();
  } finally {
    cli.child.kill('SIGTERM');
  }
  const result = await cli.result;
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /viewer of table/);
});

test('runtable ui with a bad --port or an argument is a usage error (exit 2)', async () => {
  const badPort = await runCli(['ui', '--port', 'http'], dir);
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /--port must be a whole number/);
  const extra = await runCli(['ui', 'extra'], dir);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /unexpected argument "extra"/);
});
