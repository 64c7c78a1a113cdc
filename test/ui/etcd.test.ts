// The viewer on a table on etcd: `runtable ui --table etcd://…` shows an owner registered on etcd
// and calls it (HTTP, as the page does), says etcd where the broker would be, keeps serving while
// etcd does not answer; and the page in a real browser shows and calls the same.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { connect } from 'runtable';
import { ensureBuilt, startCli } from '../cli/run-cli.ts';
import { EtcdCluster, etcdTable, freePort } from '../etcd-server.ts';
import { cleanup, type Fixture, spawnFixture, tempTableDir } from '../helpers.ts';
import { launchChromium } from './chromium.ts';
import { ensurePage } from './page-build.ts';
import { startTestViewer } from './viewer.ts';

/** Connections the proxy of the last test hangs up on: more than one connect() makes. */
const REFUSED_ATTEMPTS = 3;

let cluster: EtcdCluster;
let dir: string;
let owner: Fixture;
let table: ReturnType<typeof etcdTable>;

before(async () => {
  await ensureBuilt();
  ensurePage();
  cluster = await EtcdCluster.start(1);
  dir = tempTableDir();
  table = etcdTable(cluster.address, '127.0.0.2');
  owner = spawnFixture('owner', ['Calc/main'], dir, table.env);
  await owner.waitForLine(/^ready/);
});

after(async () => {
  await cleanup(dir);
  await cluster.stop();
});

interface FeedMessage {
  event: string;
  data: { broker?: { pid: number; entries: number; dir: string } | null; backend?: string; dir?: string } & {
    entry?: { moniker: string; pid: number };
  };
}

/** Reads the feed's Server-Sent Events until `enough` says so; fails if that takes past 20 s. */
async function readFeed(
  origin: string,
  cookie: string,
  enough: (messages: FeedMessage[]) => boolean,
): Promise<FeedMessage[]> {
  const feed = await fetch(`${origin}/api/feed`, { headers: { cookie }, signal: AbortSignal.timeout(20_000) });
  assert.equal(feed.status, 200);
  const reader = (feed.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  const messages: FeedMessage[] = [];
  let pending = '';
  try {
    while (!enough(messages)) {
      const { done, value } = await reader.read();
      if (done) break;
      pending += value;
      let end = pending.indexOf('\n\n');
      while (end >= 0) {
        const block = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) messages.push({ event, data: JSON.parse(data) });
        end = pending.indexOf('\n\n');
      }
    }
  } finally {
    await reader.cancel();
  }
  return messages;
}

/** Starts `runtable ui` with `args` and `env`; the page's origin and cookie. */
async function startUi(args: string[], env: NodeJS.ProcessEnv) {
  const cli = startCli(['ui', ...args], dir, env);
  const [line] = await cli.lines(1);
  const url = new URL(line as string);
  return { cli, origin: url.origin, cookie: `runtable-ui-${url.port}=${url.searchParams.get('token')}` };
}

test('runtable ui --table shows the entry on etcd, says etcd for the broker, and answers a call', async () => {
  const { cli, origin, cookie } = await startUi(['--table', cluster.address], { ...table.env, RUNTABLE_TABLE: '' });
  try {
    const registered = (messages: FeedMessage[]) =>
      messages.find((message) => message.event === 'registered' && message.data.entry?.moniker === 'Calc/main');
    const live = (messages: FeedMessage[]) =>
      messages.find((message) => message.event === 'status' && message.data.broker);
    const messages = await readFeed(origin, cookie, (seen) => Boolean(registered(seen) && live(seen)));
    assert.equal(registered(messages)?.data.entry?.pid, owner.pid);
    const status = live(messages)?.data;
    assert.equal(status?.backend, 'etcd');
    assert.equal(status?.dir, cluster.address);
    assert.equal(status?.broker?.pid, 0, 'no broker process on etcd');
    assert.equal(status?.broker?.entries, 1);

    const answer = await fetch(`${origin}/api/call`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ moniker: 'Calc/main', method: 'add', args: [2, 40] }),
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse((await answer.text()).trim()), { type: 'result', value: 42 });
  } finally {
    cli.child.kill('SIGTERM');
  }
  const result = await cli.result;
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, new RegExp(`viewer of table ${cluster.address.replaceAll('.', '\\.')}`));
});

test('with etcd not answering, the viewer (from RUNTABLE_TABLE) still serves, naming etcd with no figures', async () => {
  const nowhere = `etcd://127.0.0.1:${await freePort()}`;
  const { cli, origin, cookie } = await startUi([], { ...table.env, RUNTABLE_TABLE: nowhere });
  try {
    const [status] = await readFeed(origin, cookie, (seen) => seen.some((message) => message.event === 'status'));
    assert.deepEqual([status?.data.backend, status?.data.dir, status?.data.broker], ['etcd', nowhere, null]);
    // Its attempts to reach etcd fail meanwhile, and it goes on serving.
    assert.equal((await fetch(`${origin}/`, { headers: { cookie } })).status, 200);
  } finally {
    cli.child.kill('SIGTERM');
  }
  assert.equal((await cli.result).code, 0);
});

test('in a browser, the page on etcd lists the entry, names etcd in its status and picture, and calls', async () => {
  const browser = await launchChromium();
  const viewer = await startTestViewer(cluster.address, {
    backend: 'etcd',
    open: () => connect(table.options).catch(() => undefined),
  });
  try {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(15_000);
    assert.equal((await page.goto(viewer.url))?.status(), 200);
    const entry = page.locator('.entry[data-moniker="Calc/main"]');
    await entry.waitFor();
    assert.match((await entry.textContent()) ?? '', new RegExp(`pid ${owner.pid}`));
    await page.locator('#status[data-tone="live"]', { hasText: `${cluster.address} · on etcd · 1 entry` }).waitFor();
    await page.locator('.node.broker:not(.absent)', { hasText: 'etcd' }).waitFor();
    await entry.click();
    await page.selectOption('#method', 'add');
    await page.fill('#args', '[2, 40]');
    await page.click('#call');
    await page.locator('.call-block:not(.running) .result').waitFor();
    assert.equal((await page.locator('.result').first().textContent())?.trim(), '42');

    // The table's monitor works on etcd too: a failure from the page, then another client's calls.
    await page.selectOption('#method', 'fail');
    await page.fill('#args', '["on etcd"]');
    await page.click('#call');
    await page.locator(`.recent-error[data-caller="${process.pid}"]`, { hasText: 'Calc/main.fail REMOTE' }).waitFor();
    const client = spawnFixture('monitor-client', ['Calc/main', 'echo'], dir, table.env);
    await client.waitForLine(/^done/);
    await page.locator(`.caller[data-pid="${client.pid}"]`).waitFor();
    await page
      .locator(`.edge-label.calls[data-caller="${client.pid}"][data-owner="${owner.pid}"]`, { hasText: '2 calls' })
      .waitFor();
  } finally {
    await viewer.close();
    await browser.close();
  }
});

test('a viewer that cannot reach etcd keeps trying, and shows the table once etcd answers', async () => {
  // Between the viewer and etcd, a proxy that hangs up on every connection until it has been
  // tried a few times (the viewer failed and came back), then passes the bytes through.
  const etcd = new URL((cluster.members[0] as (typeof cluster.members)[0]).clientUrl);
  let attempts = 0;
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((socket) => {
    attempts++;
    if (attempts <= REFUSED_ATTEMPTS) {
      socket.destroy();
      return;
    }
    const upstream = net.connect(Number(etcd.port), etcd.hostname);
    socket.pipe(upstream).pipe(socket);
    for (const end of [socket, upstream]) {
      sockets.add(end);
      end.on('error', () => {
        socket.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  try {
    const address = `etcd://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const ui = await startUi(['--table', address], { ...table.env, RUNTABLE_TABLE: '' });
    try {
      const messages = await readFeed(
        ui.origin,
        ui.cookie,
        (seen) =>
          seen.some((message) => message.event === 'status' && message.data.broker) &&
          seen.some((message) => message.event === 'registered' && message.data.entry?.moniker === 'Calc/main'),
      );
      assert.ok(messages.some((message) => message.data.entry?.pid === owner.pid));
      assert.ok(attempts > REFUSED_ATTEMPTS);
    } finally {
      ui.cli.child.kill('SIGTERM');
    }
    assert.equal((await ui.cli.result).code, 0);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  }
});
