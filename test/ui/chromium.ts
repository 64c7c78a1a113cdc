// Debian's Chromium for the browser tests, installed the way `playwright install --with-deps`
// would: with apt when we are root (as on these machines and in CI), else a failure that names the
// one command to run. The tests are never skipped for want of a browser.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** What works headless in a container: no sandbox (root), no GPU, nothing phoning home. */
const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const INSTALL_COMMAND = 'sudo apt-get update && sudo apt-get install -y chromium';

let installing: Promise<void> | undefined;

/** Makes sure /usr/bin/chromium is there, installing Debian's package as root. */
export function ensureChromium(): Promise<void> {
  installing ??= install();
  return installing;
}

async function install(): Promise<void> {
  if (fs.existsSync(CHROMIUM)) return;
  const isRoot = process.getuid?.() === 0;
  const hasApt = fs.existsSync('/usr/bin/apt-get');
  if (!isRoot || !hasApt) {
    throw new Error(`the browser tests need Debian's Chromium at ${CHROMIUM}; install it with: ${INSTALL_COMMAND}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'chromium']]) {
    const run = spawnSync('apt-get', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (run.status !== 0) {
      throw new Error(`apt-get ${args.join(' ')} failed (exit ${run.status}):\n${run.stderr || run.stdout}`);
    }
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is missing`);
}

/** A headless Chromium, installed first if need be. */
export async function launchChromium(): Promise<Browser> {
  await ensureChromium();
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
}
