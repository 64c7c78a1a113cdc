// The bench must not rot: run it with tiny counts on every transport (every echoed payload is
// checked by the bench itself) and require a figure, or a stated reason for none, everywhere.
// No timing is asserted: CI machines are shared and noisy.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { Figure } from '../bench/report.ts';
import { NODE_TS, ROOT } from './helpers.ts';

const TRANSPORTS = [
  'raw',
  'child_process ipc',
  'zeromq',
  'http keep-alive',
  'grpc-js',
  'dbus-next',
  'runtable',
  'runtable tcp+tls',
];
const CALL_WORKLOADS = ['seq-p50', 'seq-p99', 'pipelined', 'bulk', 'load-p99'];
const NAMING_WORKLOADS = ['register', 'list', 'lookup', 'watch', 'kill', 'rss', 'rssGrowth'];

let child: ChildProcess | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-bench-'));
after(() => {
  // SIGTERM lets the bench kill its own peers, daemons and brokers.
  if (child && child.exitCode === null) child.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the bench runs every transport and workload with tiny counts', { timeout: 100_000 }, async () => {
  const json = path.join(dir, 'bench.json');
  const bench = spawn(process.execPath, [...NODE_TS, 'bench/run.ts', '--quick', '--pin', '--json', json], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = bench;
  let output = '';
  bench.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  bench.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => bench.once('exit', resolve));
  assert.equal(code, 0, output);

  const report = JSON.parse(fs.readFileSync(json, 'utf8')) as {
    figures: Figure[];
    notes: { workload: string; transport: string }[];
    failures: unknown[];
  };
  assert.deepEqual(report.failures, []);
  const has = (workload: string, transport: string) =>
    report.figures.some((f) => f.workload === workload && f.transport === transport && Number.isFinite(f.median)) ||
    report.notes.some((n) => n.workload === workload && n.transport === transport);
  for (const transport of TRANSPORTS) {
    for (const workload of CALL_WORKLOADS) assert.ok(has(workload, transport), `${transport}: no ${workload} figure`);
  }
  for (const transport of ['runtable', 'dbus-next']) {
    for (const workload of NAMING_WORKLOADS) assert.ok(has(workload, transport), `${transport}: no ${workload} figure`);
  }
  assert.ok(has('cold', 'runtable'), 'no cold start figure');
  // The floor and runtable itself must have real figures, not notes.
  for (const transport of ['raw', 'runtable']) {
    for (const workload of CALL_WORKLOADS) {
      assert.ok(report.figures.some((f) => f.workload === workload && f.transport === transport));
    }
  }
  // CPU per call on both sides, and the harness's own cost beside the floor's.
  for (const transport of ['raw', 'runtable']) {
    for (const workload of ['cpu-client', 'cpu-peer'])
      assert.ok(has(workload, transport), `${transport}: no ${workload}`);
  }
  for (const transport of ['raw', 'harness: tags, checks', 'harness: await only']) {
    assert.ok(has('harness', transport), `no harness figure for ${transport}`);
  }
  assert.match(output, /x ref/);
});
