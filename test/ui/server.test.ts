// The viewer's HTTP server without a browser: who is let in (token, Host, Origin), the page's
// files, the live feed, and calls answered line by line.

import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http from 'node:http';
import { afterEach, beforeEach, test } from 'node:test';
import type { Viewer } from '../../src/ui/server.ts';
import { cleanup, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';
import { pageHeaders, send, startTestViewer } from './viewer.ts';

let dir: string;
let viewer: Viewer;

beforeEach(async () => {
  dir = tempTableDir();
  const owner = spawnFixture('rich', ['Rich/a'], dir);
  await owner.waitForLine(/^ready/);
  viewer = await startTestViewer(dir);
});

afterEach(async () => {
  await viewer.close();
  await cleanup(dir);
});

function call(body: unknown, headers: Record<string, string> = {}) {
  return send(viewer.port, '/api/call', {
    method: 'POST',
    headers: pageHeaders(viewer, { 'content-type': 'application/json', ...headers }),
    body: JSON.stringify(body),
  });
}

function lines(body: string): unknown[] {
  return body
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

test('the token in the URL opens the page and sets a cookie that works from then on', async () => {
  const host = `127.0.0.1:${viewer.port}`;
  const first = await send(viewer.port, `/?token=${viewer.token}`, { headers: { host } });
  assert.equal(first.status, 200);
  assert.match(first.body, /<script type="module" src="\/app.js">/);
  assert.match(String(first.headers['content-security-policy']), /default-src 'none'/);
  const cookie = String(first.headers['set-cookie']).split(';')[0] as string;
  assert.equal(cookie, `runtable-ui-${viewer.port}=${viewer.token}`);
  assert.match(String(first.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
  const script = await send(viewer.port, '/app.js', { headers: { host, cookie } });
  assert.equal(script.status, 200);
  assert.match(String(script.headers['content-type']), /javascript/);
  const viaLocalhost = await send(viewer.port, '/app.css', { headers: { host: `localhost:${viewer.port}`, cookie } });
  assert.equal(viaLocalhost.status, 200);
});

test('a missing or wrong token is refused with 403, on every path', async () => {
  const host = `127.0.0.1:${viewer.port}`;
  for (const path of [
    '/',
    '/app.js',
    '/api/feed',
    '/api/events?moniker=Rich/a&event=tick',
    '/api/stats?moniker=Rich/a',
  ]) {
    assert.equal((await send(viewer.port, path, { headers: { host } })).status, 403, `no token for ${path}`);
  }
  assert.equal((await send(viewer.port, '/?token=wrong', { headers: { host } })).status, 403);
  // One character off: a token ending in x is changed to y.
  const almost = `${viewer.token.slice(0, -1)}${viewer.token.endsWith('x') ? 'y' : 'x'}`;
  assert.equal((await send(viewer.port, `/?token=${almost}`, { headers: { host } })).status, 403);
  const cookie = `runtable-ui-${viewer.port}=${almost}`;
  assert.equal((await send(viewer.port, '/', { headers: { host, cookie } })).status, 403);
  const noToken = await call({ moniker: 'Rich/a', method: 'add', args: [1, 2] }, { cookie: '' });
  assert.equal(noToken.status, 403);
});

test('a foreign Host (DNS rebinding) or a foreign Origin is refused even with the right token', async (t) => {
  // The viewer calls from this process, so its calls show on the client-side channel.
  const sent: string[] = [];
  const onStart = (event: unknown) => sent.push((event as { method: string }).method);
  subscribe('runtable:call:start', onStart);
  t.after(() => unsubscribe('runtable:call:start', onStart));
  const path = `/?token=${viewer.token}`;
  const rebound = await send(viewer.port, path, { headers: { host: `attacker.example:${viewer.port}` } });
  assert.equal(rebound.status, 403);
  assert.match(rebound.body, /Host/);
  const otherPort = await send(viewer.port, path, { headers: { host: `127.0.0.1:${viewer.port + 1}` } });
  assert.equal(otherPort.status, 403);

  for (const origin of ['http://attacker.example', `http://127.0.0.1:${viewer.port + 1}`, 'null']) {
    const answer = await call({ moniker: 'Rich/a', method: 'add', args: [1, 2] }, { origin });
    assert.equal(answer.status, 403, `Origin ${origin}`);
    assert.match(answer.body, /Origin/);
  }
  const crossSite = await call({ moniker: 'Rich/a', method: 'add', args: [1, 2] }, { 'sec-fetch-site': 'cross-site' });
  assert.equal(crossSite.status, 403);
  assert.deepEqual(sent, [], 'nothing refused was sent on to the owner');
  const ok = await call(
    { moniker: 'Rich/a', method: 'add', args: [1, 2] },
    { origin: `http://127.0.0.1:${viewer.port}`, 'sec-fetch-site': 'same-origin' },
  );
  assert.equal(ok.status, 200);
  assert.deepEqual(lines(ok.body), [{ type: 'result', value: 3 }]);
  assert.deepEqual(sent, ['add']);
});

test('the server listens on loopback only, and its URL says so', () => {
  assert.equal(viewer.address, '127.0.0.1');
  const url = new URL(viewer.url);
  assert.equal(url.hostname, '127.0.0.1');
  assert.equal(Number(url.port), viewer.port);
  assert.equal(url.searchParams.get('token'), viewer.token);
});

test('calls: a result, a stream item by item, a remote error, and a moniker that is not there', async () => {
  assert.deepEqual(lines((await call({ moniker: 'Rich/a', method: 'add', args: [20, 22] })).body), [
    { type: 'result', value: 42 },
  ]);
  assert.deepEqual(lines((await call({ moniker: 'Rich/a', method: 'numbers', args: [3, 't'] })).body), [
    { type: 'item', value: 0 },
    { type: 'item', value: 1 },
    { type: 'item', value: 2 },
    { type: 'end', items: 3 },
  ]);
  const failed = lines((await call({ moniker: 'Rich/a', method: 'numbersThenFail', args: [1, 'boom'] })).body);
  assert.deepEqual(failed[0], { type: 'item', value: 0 });
  assert.deepEqual(failed[1], {
    type: 'error',
    error: { code: 'REMOTE', message: 'boom', name: 'RangeError', remoteCode: 'E_STREAM' },
  });
  const hidden = lines((await call({ moniker: 'Rich/a', method: 'toString', args: [] })).body);
  assert.equal((hidden[0] as { error: { code: string } }).error.code, 'NO_SUCH_METHOD');
  const nobody = lines((await call({ moniker: 'Rich/nobody', method: 'add', args: [] })).body);
  assert.equal((nobody[0] as { error: { code: string } }).error.code, 'NOT_REGISTERED');
});

test('a call body that is not a JSON call is refused before anything is called', async () => {
  const headers = pageHeaders(viewer, { 'content-type': 'application/json' });
  const notJson = await send(viewer.port, '/api/call', { method: 'POST', headers, body: '{"moniker":' });
  assert.equal(notJson.status, 400);
  const wrongShape = await send(viewer.port, '/api/call', { method: 'POST', headers, body: '{"moniker":"Rich/a"}' });
  assert.equal(wrongShape.status, 400);
  const form = await send(viewer.port, '/api/call', {
    method: 'POST',
    headers: pageHeaders(viewer, { 'content-type': 'text/plain' }),
    body: JSON.stringify({ moniker: 'Rich/a', method: 'add', args: [1, 2] }),
  });
  assert.equal(form.status, 415);
  const get = await send(viewer.port, '/api/call', { headers: pageHeaders(viewer) });
  assert.equal(get.status, 405);
});

test("/api/stats answers an object's statistics from its owner, or why there are none", async () => {
  const added = lines((await call({ moniker: 'Rich/a', method: 'add', args: [1, 2] })).body);
  assert.deepEqual(added[0], { type: 'result', value: 3 });
  const answer = await send(viewer.port, '/api/stats?moniker=Rich/a', { headers: pageHeaders(viewer) });
  assert.equal(answer.status, 200);
  assert.match(String(answer.headers['content-type']), /^application\/json/);
  const { stats } = JSON.parse(answer.body) as {
    stats: { moniker: string; since: string; methods: Record<string, { calls: number }> };
  };
  assert.equal(stats.moniker, 'Rich/a');
  assert.ok(!Number.isNaN(Date.parse(stats.since)));
  assert.ok((stats.methods.add?.calls ?? 0) >= 1, 'the call just made is counted');
  const nobody = await send(viewer.port, '/api/stats?moniker=Rich/nobody', { headers: pageHeaders(viewer) });
  assert.equal((JSON.parse(nobody.body) as { error: { code: string } }).error.code, 'NOT_REGISTERED');
  const bare = await send(viewer.port, '/api/stats', { headers: pageHeaders(viewer) });
  assert.equal(bare.status, 400);
  const posted = await send(viewer.port, '/api/stats?moniker=Rich/a', { method: 'POST', headers: pageHeaders(viewer) });
  assert.equal(posted.status, 405);
});

test('the feed sends the table now, then each change, as Server-Sent Events', async () => {
  const events: { event: string; data: { type: string; entry?: { moniker: string } } }[] = [];
  const request = http.get({ host: '127.0.0.1', port: viewer.port, path: '/api/feed', headers: pageHeaders(viewer) });
  try {
    const response = await new Promise<http.IncomingMessage>((resolve) => request.once('response', resolve));
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /text\/event-stream/);
    onServerEvents(response, (event, data) => events.push({ event, data: JSON.parse(data) }));
    await waitFor(() => events.some((e) => e.event === 'registered' && e.data.entry?.moniker === 'Rich/a'));
    assert.ok(events.some((e) => e.event === 'status'));
    const second = spawnFixture('owner', ['Second/b'], dir);
    await second.waitForLine(/^ready/);
    await waitFor(() => events.some((e) => e.event === 'registered' && e.data.entry?.moniker === 'Second/b'));
    second.child.kill('SIGKILL');
    await waitFor(() => events.some((e) => e.event === 'revoked' && e.data.entry?.moniker === 'Second/b'));
  } finally {
    request.destroy();
  }
});

/** Calls `onEvent` with each event's name and data line as a server-sent event stream delivers them. */
function onServerEvents(response: http.IncomingMessage, onEvent: (event: string, data: string) => void): void {
  let pending = '';
  response.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const blocks = pending.split('\n\n');
    pending = blocks.pop() ?? '';
    for (const block of blocks) {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) onEvent(event, data);
    }
  });
}

interface TrafficMessage {
  pairs: { callerPid: number; ownerPid: number; moniker: string; calls: number; errors: number; lastAt: string }[];
  errors: { callerPid: number; moniker: string; method: string; outcome: string }[];
  missed: number;
}

test("the feed's traffic counts every call of the table: the viewer's own, and another client process's", async () => {
  const target = spawnFixture('owner', ['Traffic/a'], dir);
  await target.waitForLine(/^ready/);
  const traffic: TrafficMessage[] = [];
  const request = http.get({ host: '127.0.0.1', port: viewer.port, path: '/api/feed', headers: pageHeaders(viewer) });
  try {
    const response = await new Promise<http.IncomingMessage>((resolve) => request.once('response', resolve));
    onServerEvents(response, (event, data) => {
      if (event === 'traffic') traffic.push(JSON.parse(data));
    });
    const pair = (callerPid: number, moniker: string) =>
      traffic.at(-1)?.pairs.find((p) => p.callerPid === callerPid && p.moniker === moniker);
    // The viewer's own call, under its own pid: once it shows, the monitor is on the new owner.
    await waitFor(
      async () => {
        await call({ moniker: 'Traffic/a', method: 'echo', args: [1] });
        return pair(process.pid, 'Traffic/a');
      },
      20_000,
      "the viewer's call in the traffic",
    );
    const client = spawnFixture('monitor-client', ['Traffic/a', 'echo', 'fail', 'echo'], dir);
    await client.waitForLine(/^done/);
    const seen = await waitFor(() => {
      const found = pair(client.pid, 'Traffic/a');
      return found?.calls === 4 ? found : undefined;
    }, 20_000);
    assert.ok(!Number.isNaN(Date.parse(seen.lastAt)));
    assert.deepEqual(seen, {
      callerPid: client.pid,
      ownerPid: target.pid,
      moniker: 'Traffic/a',
      calls: 4,
      errors: 1,
      lastAt: seen.lastAt,
    });
    const last = traffic.at(-1) as TrafficMessage;
    assert.ok(
      last.errors.some((e) => e.callerPid === client.pid && e.method === 'fail' && e.outcome === 'REMOTE'),
      JSON.stringify(last.errors),
    );
    assert.equal(last.missed, 0);
    // One message per interval, not one per call.
    assert.ok(traffic.length < 20, `${traffic.length} traffic messages`);
    target.child.kill('SIGKILL');
    await waitFor(
      () => traffic.at(-1)?.pairs.every((p) => p.moniker !== 'Traffic/a'),
      20_000,
      'the pairs of a revoked moniker dropped',
    );
  } finally {
    request.destroy();
  }
});
