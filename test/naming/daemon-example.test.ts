// The daemon pattern with examples/build-daemon.ts and build-client.ts as a user would run them:
// the first client starts the daemon through its service file, the daemon leaves when idle, and
// the next client starts it again.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { cleanup, isAlive, NODE_TS, ROOT, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';
import { servicesDir, writeService } from './services.ts';

let dir: string;
let services: ReturnType<typeof servicesDir>;

beforeEach(() => {
  dir = tempTableDir();
  services = servicesDir();
});

afterEach(async () => {
  for (const match of fs.readFileSync(path.join(dir, 'broker.log'), 'utf8').matchAll(/started pid (\d+)/g)) {
    try {
      process.kill(Number(match[1]), 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  }
  await cleanup(dir);
  services.remove();
});

async function client(target: string): Promise<{ pid: number; line: string }> {
  const run = spawnFixture('examples/build-client.ts', [target], dir, { RUNTABLE_SERVICES: services.dir });
  const line = await run.waitForLine(/^built /, 60_000);
  assert.equal(await run.exited, 0);
  return { pid: Number(/daemon (\d+)\)$/.exec(line)?.[1]), line };
}

test('the build daemon starts on demand, leaves when idle, and starts again for the next client', async () => {
  writeService(services.dir, 'build', {
    monikers: ['Build/daemon'],
    command: [process.execPath, ...NODE_TS, path.join(ROOT, 'examples', 'build-daemon.ts')],
    cwd: ROOT,
    env: { BUILD_DAEMON_IDLE_MS: '300' },
  });
  const first = await client('lib');
  assert.match(first.line, /^built lib \(build 1 of daemon \d+\)$/);
  await waitFor(() => !isAlive(first.pid), 20_000, 'the idle daemon to leave');
  const log = fs.readdirSync(dir).find((name) => name.startsWith('service-build-') && name.endsWith('.log'));
  assert.match(fs.readFileSync(path.join(dir, log as string), 'utf8'), /no client for 300 ms after 1 builds: leaving/);

  const second = await client('app');
  assert.notEqual(second.pid, first.pid);
  assert.match(second.line, /^built app \(build 1 of daemon \d+\)$/);
});
