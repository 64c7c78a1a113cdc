// Takes docs/ui.png, the README's picture of the viewer: two of the seed's TargetApps and a
// calculator owner on a private table, a few calls made from the page and from another client
// process, then a screenshot.
// Run: node --import tsx --conditions=runtable-source scripts/ui-screenshot.ts

import path from 'node:path';
import { connect } from 'runtable';
import { startViewer } from '../src/ui/server.ts';
import { cleanup, ROOT, spawnFixture, tempTableDir } from '../test/helpers.ts';
import { launchChromium } from '../test/ui/chromium.ts';
import { ensurePage } from '../test/ui/page-build.ts';

const dir = tempTableDir();
const browser = await launchChromium();
try {
  ensurePage();
  for (const name of ['alpha', 'beta']) {
    await spawnFixture('examples/target-app.ts', [name], dir).waitForLine(/registered/);
  }
  await spawnFixture('owner', ['Calc/main', 'Calc/backup'], dir).waitForLine(/^ready/);
  const viewer = await startViewer({ dir, open: () => connect({ dir, autoStart: false }).catch(() => undefined) });
  await viewer.feed.connected;
  const page = await browser.newPage({ viewport: { width: 1280, height: 980 } });
  await page.goto(viewer.url);
  await page.locator('.entry[data-moniker="Calc/main"]').click();
  await page.selectOption('#method', 'add');
  await page.fill('#args', '[2, 40]');
  await page.click('#call');
  await page.locator('.call-block:not(.running)').waitFor();
  await page.locator('.entry[data-moniker="SampleServer/alpha"]').click();
  for (const text of ['hello from the viewer', 'and again']) {
    await page.selectOption('#method', 'sendData');
    await page.fill('#args', JSON.stringify([text]));
    await page.click('#call');
    await page.locator('.call-block:not(.running) .result').first().waitFor();
  }
  await page.selectOption('#method', 'received');
  await page.fill('#args', '[]');
  await page.click('#call');
  await page.waitForFunction("document.querySelectorAll('.call-block:not(.running)').length === 3");
  // The owner's statistics of those calls, once the panel has asked for them again.
  await page.locator('#stats-table .stats-total td.calls', { hasText: /^3$/ }).waitFor();
  // Another process calling too: the picture draws it from the table's monitor.
  const client = spawnFixture('monitor-client', ['Calc/main', 'echo', 'echo', 'fail'], dir);
  await client.waitForLine(/^done/);
  await page.locator('.caller').waitFor();
  await page.fill('#event-name', 'data');
  await page.click('#subscribe');
  await page.locator('.subscription:not(.pending)').waitFor();
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(ROOT, 'docs', 'ui.png') });
  await page.close();
  await viewer.close();
} finally {
  await browser.close();
  await cleanup(dir);
}
