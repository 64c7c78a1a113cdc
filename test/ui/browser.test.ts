// The viewer in a real browser: Debian's Chromium, headless, driven by playwright-core. Owners are
// real processes started (and killed) by each test; the page must follow them live, call them
// from its form, show their events, and refuse what does not come from it.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { connect } from 'runtable';
import type { Viewer } from '../../src/ui/server.ts';
import { cleanup, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';
import { launchChromium } from './chromium.ts';
import { startTestViewer } from './viewer.ts';

let browser: Browser;
let dir: string;
let viewer: Viewer | undefined;
let context: BrowserContext | undefined;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  await context?.close();
  context = undefined;
  await viewer?.close();
  viewer = undefined;
  await cleanup(dir);
});

async function owner(...monikers: string[]) {
  const fixture = spawnFixture('owner', monikers, dir);
  await fixture.waitForLine(/^ready/);
  return fixture;
}

async function openViewer(): Promise<Page> {
  viewer = await startTestViewer(dir);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Well under the test's own timeout, so that a missing element fails with its name.
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const response = await page.goto(viewer.url);
  assert.equal(response?.status(), 200);
  return page;
}

const entry = (page: Page, moniker: string) => page.locator(`.entry[data-moniker="${moniker}"]`);

async function choose(page: Page, moniker: string, method: string, args: string): Promise<void> {
  const [shown] = await page.locator('.object-moniker').allTextContents();
  if (shown !== moniker) await entry(page, moniker).click();
  await page.locator('.object-moniker', { hasText: moniker }).waitFor();
  await page.selectOption('#method', method);
  await page.fill('#args', args);
}

test('the page lists the owners the test started, follows new ones and drops a killed one without a reload', async () => {
  const first = await owner('Sample/a', 'Sample/b');
  const second = await owner('Sample/c');
  const page = await openViewer();
  for (const moniker of ['Sample/a', 'Sample/b', 'Sample/c']) await entry(page, moniker).waitFor();
  assert.match((await entry(page, 'Sample/c').textContent()) ?? '', new RegExp(`pid ${second.pid}`));
  assert.match((await entry(page, 'Sample/a').textContent()) ?? '', /fixture=owner/);
  // The picture: one node per owner process, holding its objects.
  assert.equal(await page.locator(`.owner[data-pid="${first.pid}"] .object`).count(), 2);
  assert.equal(await page.locator(`.owner[data-pid="${second.pid}"] .object`).count(), 1);
  await page.locator('#status[data-tone="live"]').waitFor();

  await page.evaluate(() => {
    (globalThis as unknown as { marker: number }).marker = 1;
  });
  second.child.kill('SIGKILL');
  await entry(page, 'Sample/c').waitFor({ state: 'detached' });
  await page.locator(`.owner[data-pid="${second.pid}"]`).waitFor({ state: 'detached' });
  const third = await owner('Other/d');
  await entry(page, 'Other/d').waitFor();
  assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 1, 'no reload');
  assert.equal(await entry(page, 'Sample/a').count(), 1);

  await page.fill('#filter', 'Sample/');
  await waitFor(async () => (await page.locator('.entry').count()) === 2, 10_000, 'the filter');
  assert.equal(await entry(page, 'Other/d').count(), 0);
  assert.equal(await page.locator(`.owner[data-pid="${third.pid}"]`).count(), 0);
});

test('a call from the form returns the right result; arguments that are not JSON are refused in the page', async () => {
  await owner('Calc/a');
  const page = await openViewer();
  const calls: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/api/call')) calls.push(request.postData() ?? '');
  });
  await choose(page, 'Calc/a', 'add', '[2, 40]');
  await page.click('#call');
  await page.locator('.call-block:not(.running) .result').waitFor();
  assert.equal((await page.locator('.result').first().textContent())?.trim(), '42');
  assert.deepEqual(JSON.parse(calls[0] as string), { moniker: 'Calc/a', method: 'add', args: [2, 40] });

  await choose(page, 'Calc/a', 'echo', '{"oops":');
  await page.click('#call');
  await page.locator('#args-error', { hasText: 'not valid JSON' }).waitFor();
  await choose(page, 'Calc/a', 'echo', '"not an array"');
  await page.click('#call');
  await page.locator('#args-error', { hasText: 'JSON array' }).waitFor();
  assert.equal(calls.length, 1, 'nothing sent for arguments that do not parse');

  await choose(page, 'Calc/a', 'fail', '["no luck", "E_LUCK"]');
  await page.click('#call');
  const error = page.locator('.call-block').first().locator('.error');
  await error.waitFor();
  assert.match((await error.textContent()) ?? '', /REMOTE TypeError \("E_LUCK"\).*no luck/);
  // The picture counts the calls this viewer made, and says so.
  await page.locator('.object[data-moniker="Calc/a"] .object-count', { hasText: '2×' }).waitFor();
});

test('events emitted by an owner appear as they come, and a stream shows its items one by one', async () => {
  const rich = spawnFixture('rich', ['Rich/a'], dir);
  await rich.waitForLine(/^ready/);
  const page = await openViewer();
  await entry(page, 'Rich/a').click();
  await page.fill('#event-name', 'tick');
  await page.click('#subscribe');
  await page.locator('.subscription[data-event="tick"]:not(.pending)').waitFor();

  const table = await connect({ dir, autoStart: false });
  try {
    const remote = await table.get<{ emitTicks(n: number): number[] }>('Rich/a');
    assert.deepEqual(await remote.emitTicks(3), [1, 1, 1]);
  } finally {
    await table.close();
  }
  await waitFor(async () => (await page.locator('.event-row').count()) === 3, 10_000, 'three events');
  const rows = await page.locator('.event-row .event-args').allTextContents();
  assert.deepEqual(rows, ['2', '1', '0'], 'newest first');

  await choose(page, 'Rich/a', 'numbers', '[4, "ui", 20]');
  await page.click('#call');
  await page.locator('.call-block .end', { hasText: 'after 4 items' }).waitFor();
  assert.deepEqual(await page.locator('.call-block').first().locator('.item').allTextContents(), ['0', '1', '2', '3']);
});

test("the detail panel shows the owner's statistics of every caller's calls, refreshed while it is open", async () => {
  const fixture = await owner('Counted/a');
  const page = await openViewer();
  await entry(page, 'Counted/a').click();
  await page.locator('#stats-table').waitFor();
  const cell = (method: string, column: string) =>
    page.locator(`#stats-table tr[data-method="${method}"] td.${column}`);
  assert.equal(await cell('echo', 'calls').textContent(), '0');
  assert.match((await page.locator('#stats').textContent()) ?? '', new RegExp(`counted by pid ${fixture.pid}`));

  // Calls from another process, not from the viewer: the owner counted them, so the page shows them.
  const table = await connect({ dir, autoStart: false });
  try {
    const remote = await table.get<{ echo(v: unknown): unknown; fail(m: string): never }>('Counted/a');
    for (let i = 0; i < 3; i++) await remote.echo(i);
    await remote.fail('no').catch(() => {});
    await cell('echo', 'calls').filter({ hasText: /^3$/ }).waitFor();
    await cell('fail', 'errors').filter({ hasText: /^1$/ }).waitFor();
    await page.locator('#stats-table .stats-total td.codes', { hasText: 'REMOTE 1' }).waitFor();
    assert.match((await cell('echo', 'p99').textContent()) ?? '', /^\d+(\.\d)?(µs|ms|s)$/);
    // Still asking while it stays open: two more calls appear without a click.
    await remote.echo('again');
    await remote.echo('and again');
    await cell('echo', 'calls').filter({ hasText: /^5$/ }).waitFor();
    await page.locator('#stats-table .stats-total td.calls', { hasText: /^6$/ }).waitFor();
  } finally {
    await table.close();
  }
});

test('a call to an object that just left: the page says so and drops it from the list', async () => {
  const doomed = await owner('Doomed/a');
  await owner('Stays/b');
  const page = await openViewer();
  await choose(page, 'Doomed/a', 'slow', '[60000]');
  await page.click('#call');
  await page.locator('.call-block.running').waitFor();
  // Counted once the call is on its way to the owner: killed any sooner, the viewer could find
  // the name already gone (NOT_REGISTERED) instead of losing a call in flight.
  await page.locator('.edge-label.calls', { hasText: '1 call' }).waitFor();
  doomed.child.kill('SIGKILL');
  await page.locator('.banner', { hasText: 'Doomed/a has left the table' }).waitFor();
  await page.locator('.call-block .error', { hasText: 'OBJECT_GONE' }).waitFor();
  await entry(page, 'Doomed/a').waitFor({ state: 'detached' });
  assert.equal(await page.locator('#call').isDisabled(), true);
  assert.equal(await entry(page, 'Stays/b').count(), 1);
});

test('a request without the token, and one from another origin, are refused', async () => {
  const counter = await owner('Count/a');
  const page = await openViewer();
  const active = viewer as Viewer;
  await entry(page, 'Count/a').waitFor();

  // Another context has no cookie: without the token in the URL the viewer says 403.
  const stranger = await browser.newPage();
  try {
    const refused = await stranger.goto(`http://127.0.0.1:${active.port}/`);
    assert.equal(refused?.status(), 403);
  } finally {
    await stranger.close();
  }

  // A page on another loopback port is same-site for cookies, so only the Origin check stops it.
  const target = `http://127.0.0.1:${active.port}/api/call`;
  const body = JSON.stringify({ moniker: 'Count/a', method: 'count', args: [] });
  const evil = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end(`<!doctype html><script>
      fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(body)} });
    </script>`);
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  try {
    const answered = page.waitForResponse((response) => response.url() === target);
    await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    assert.equal((await answered).status(), 403);
  } finally {
    evil.close();
  }
  const table = await connect({ dir, autoStart: false });
  try {
    const remote = await table.get<{ calls(): number }>('Count/a');
    assert.equal(await remote.calls(), 0, 'the refused call never reached the owner');
  } finally {
    await table.close();
  }
  assert.equal(counter.child.exitCode, null);
});

test('the picture draws every call of the table from its monitor: another client process, its failures, and this viewer', async () => {
  const target = await owner('Seen/a');
  const page = await openViewer();
  // A failure from the form shows in the list of failures only once the monitor saw it: from
  // then on the monitor is attached to the owner, and the client's calls cannot slip past it.
  await choose(page, 'Seen/a', 'fail', '["from the page"]');
  await page.click('#call');
  await page.locator(`.recent-error[data-caller="${process.pid}"]`, { hasText: 'this viewer' }).waitFor();

  const client = spawnFixture('monitor-client', ['Seen/a', 'echo', 'fail', 'echo'], dir);
  await client.waitForLine(/^done/);
  await page.locator(`.caller[data-pid="${client.pid}"]`, { hasText: `client  pid ${client.pid}` }).waitFor();
  const line = page.locator(`.edge-label.calls[data-caller="${client.pid}"][data-owner="${target.pid}"]`);
  await line.filter({ hasText: '4 calls, 1 failed' }).waitFor();
  await page.locator(`.recent-error[data-caller="${client.pid}"]`, { hasText: 'Seen/a.fail REMOTE' }).waitFor();
  // The viewer's own call is drawn from its own node, as what it is: one call, failed.
  const own = page.locator(`.edge-label.calls[data-caller="${process.pid}"][data-owner="${target.pid}"]`);
  assert.equal(await own.textContent(), '1 call, 1 failed');
  // The object counts every caller's calls.
  await page.locator('.object[data-moniker="Seen/a"] .object-count', { hasText: '5×' }).waitFor();
});
