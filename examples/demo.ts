// The example scenario (after a COM Running Object Table sample), played end to end: three
// TargetApps register under SampleServer/, the SourceApp finds them by prefix and sends each a
// message, one target is killed with SIGKILL and leaves the table at once. Runs on a private
// table and leaves no process behind.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'runtable';
import type { ICommHelper } from './target-app.js';

const self = fileURLToPath(import.meta.url);
const here = path.dirname(self);
// TypeScript in a checkout (through tsx), JavaScript when runtable demo runs it from the package.
const ext = path.extname(self);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-demo-'));
// A private local table, even in a shell whose RUNTABLE_TABLE names one on etcd.
delete process.env.RUNTABLE_TABLE;
const env = { ...process.env, RUNTABLE_DIR: dir };
const bold = process.stdout.isTTY && !process.env.NO_COLOR;
const say = (line: string) => console.log(bold ? `\x1b[1m${line}\x1b[0m` : line);
const children: ChildProcess[] = [];

function run(script: string, args: string[], label: string): ChildProcess {
  const child = spawn(process.execPath, [...process.execArgv, path.join(here, script), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    for (const line of text.trimEnd().split('\n')) console.log(`  ${label} | ${line}`);
  });
  children.push(child);
  return child;
}

const table = await connect({ dir });
const broker = await table.status();
say(`table ${dir}, broker pid ${broker.pid}`);
const events = table.watch('SampleServer/');
let next = events.next();

try {
  say('1. Three TargetApps register themselves');
  const targets = new Map<string, ChildProcess>();
  for (const name of ['alpha', 'beta', 'gamma']) targets.set(name, run(`target-app${ext}`, [name], `target ${name}`));
  for (let seen = 0; seen < 3; ) {
    const { value } = await next;
    next = events.next();
    if (value?.type === 'registered') {
      seen++;
      say(`   watcher: registered ${value.entry.moniker} (pid ${value.entry.pid})`);
    }
  }

  say('2. The SourceApp lists SampleServer/ and sends to every server');
  const source = run(`source-app${ext}`, ['--all', 'hello from SourceApp'], 'source');
  await new Promise((resolve) => source.once('exit', resolve));

  say('3. Each target received its data');
  for (const name of targets.keys()) {
    const server = await table.get<ICommHelper>(`SampleServer/${name}`);
    say(`   ${name} holds ${JSON.stringify(await server.received())}`);
  }

  say('4. beta is killed with SIGKILL');
  const started = process.hrtime.bigint();
  targets.get('beta')?.kill('SIGKILL');
  for (;;) {
    const { value } = await next;
    next = events.next();
    if (value?.type === 'revoked' && value.entry.moniker === 'SampleServer/beta') break;
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  say(`   watcher: revoked SampleServer/beta after ${ms.toFixed(1)} ms`);
  const left = await table.list('SampleServer/');
  say(`   the table now: ${left.map((entry) => entry.moniker).join(', ')}`);
} finally {
  await events.return();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(
    children.map((child) =>
      child.exitCode === null && child.signalCode === null
        ? new Promise((resolve) => child.once('exit', resolve))
        : undefined,
    ),
  );
  await table.close();
  process.kill(broker.pid, 'SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
  say('done: targets stopped, broker stopped, table removed');
}
