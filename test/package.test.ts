// The package as a user gets it: packed from a fresh copy of the checkout (so the build runs as
// npm pack runs it), installed from the tarball into an empty app, then used there: what the
// install brings, the files it ships, `npx runtable demo`, the CLI in a pipe, etcd without
// etcd3, and the app bundled by esbuild into one file, run far from any node_modules.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { brokerPids, cleanup, isAlive, ROOT, tempTableDir } from './helpers.ts';

/** The most packages a local-only install may bring, runtable included. */
const MAX_LOCAL_PACKAGES = 8;
/** Packing builds the package (tsc and esbuild) on a slow, shared machine. */
const PACK_TIMEOUT_MS = 110_000;

const run = promisify(execFile);
let work: string;
let app: string;
const tables: string[] = [];
const children: ChildProcess[] = [];

/** The user's environment, not the one `npm test` sets up for its own scripts. */
function userEnv(more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return { ...env, NO_COLOR: '1', ...more };
}

function table(): string {
  const dir = tempTableDir();
  tables.push(dir);
  return dir;
}

before(
  async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-pkg-'));
    // A copy, so that the build neither races the CLI tests' build of dist nor ships stale files.
    const copy = path.join(work, 'runtable');
    const skip = new Set(['node_modules', 'dist', '.git'].map((name) => path.join(ROOT, name)));
    fs.cpSync(ROOT, copy, { recursive: true, filter: (source) => !skip.has(source) });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const packed = path.join(work, 'packed');
    fs.mkdirSync(packed);
    await run('npm', ['pack', '--pack-destination', packed], { cwd: copy, env: userEnv(), timeout: PACK_TIMEOUT_MS });
    const tarball = fs.readdirSync(packed)[0] ?? '';
    assert.ok(tarball.endsWith('.tgz'), 'npm pack made a tarball');

    app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(packed, tarball)], {
      cwd: app,
      env: userEnv(),
      timeout: PACK_TIMEOUT_MS,
    });
    for (const name of fs.readdirSync(path.join(ROOT, 'test', 'fixtures', 'package-app'))) {
      fs.copyFileSync(path.join(ROOT, 'test', 'fixtures', 'package-app', name), path.join(app, name));
    }
  },
  { timeout: 2 * PACK_TIMEOUT_MS },
);

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of tables) await cleanup(dir);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

// Without @opentelemetry/api too: every test below runs connect() and calls with tracing.ts finding
// nothing to load (and the bundled app with no node_modules at all).
test('a local-only install is light: no etcd3, no gRPC, no @types/node, no OpenTelemetry', () => {
  const lock = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', '.package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  const names = Object.keys(lock.packages).map((key) => key.replace(/^.*node_modules\//, ''));
  assert.ok(names.includes('runtable') && names.includes('cbor-x'), names.join(', '));
  assert.ok(names.length <= MAX_LOCAL_PACKAGES, `${names.length} packages: ${names.join(', ')}`);
  for (const heavy of ['etcd3', '@grpc/grpc-js', '@types/node', '@opentelemetry/api']) {
    assert.ok(!names.includes(heavy), heavy);
  }
});

test('the package ships its licence, changelog and package.json, and not what users never need', async () => {
  const { stdout } = await run(process.execPath, ['-p', "require.resolve('runtable/package.json')"], { cwd: app });
  const installed = path.dirname(stdout.trim());
  assert.equal(installed, fs.realpathSync(path.join(app, 'node_modules', 'runtable')));
  assert.match(fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8'), /^MIT License/);
  assert.match(fs.readFileSync(path.join(installed, 'CHANGELOG.md'), 'utf8'), /^## 0\.1\.0/m);
  const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
  for (const optional of ['etcd3', '@opentelemetry/api']) {
    assert.equal(manifest.peerDependenciesMeta[optional].optional, true, optional);
    assert.equal(typeof manifest.peerDependencies[optional], 'string', optional);
    assert.equal(manifest.dependencies[optional], undefined, optional);
  }
  assert.ok(fs.existsSync(path.join(installed, 'dist', 'ui', 'page', 'app.js')), 'the viewer page, built');
  assert.ok(!fs.existsSync(path.join(installed, 'src', 'ui', 'page')), 'not the page sources');
  assert.deepEqual(
    fs.readdirSync(path.join(installed, 'dist', 'cli')).filter((name) => name.endsWith('.d.ts')),
    [],
    'no types of CLI internals',
  );
  // Every link of the README works on the npm page: absolute, or an anchor in the README.
  const readme = fs.readFileSync(path.join(installed, 'README.md'), 'utf8');
  for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) assert.match(target as string, /^(https:\/\/|#)/);
});

test('npx runtable demo plays the scenario from the installed package', async () => {
  const { stdout } = await run('npx', ['runtable', 'demo'], { cwd: app, env: userEnv(), timeout: 60_000 });
  assert.match(stdout, /the table now: SampleServer\/alpha, SampleServer\/gamma$/m);
  assert.match(stdout, /done: targets stopped, broker stopped, table removed/);
});

test('the installed CLI prints JSON into a pipe', async () => {
  const dir = table();
  const owner = spawn(process.execPath, ['owner.mjs'], {
    cwd: app,
    env: userEnv({ RUNTABLE_DIR: dir }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(owner);
  await new Promise((resolve, reject) => {
    owner.stdout?.on('data', (chunk: Buffer) => chunk.includes('ready') && resolve(undefined));
    owner.once('exit', (code) => reject(new Error(`the owner exited with ${code}`)));
  });
  const cli = async (...args: string[]) =>
    JSON.parse((await run('npx', ['runtable', ...args], { cwd: app, env: userEnv({ RUNTABLE_DIR: dir }) })).stdout);
  const [listed, entry, status] = await Promise.all([cli('ls'), cli('inspect', 'Pkg/echo'), cli('broker', 'status')]);
  assert.deepEqual(
    listed.map((e: { moniker: string }) => e.moniker),
    ['Pkg/echo'],
  );
  assert.deepEqual(entry.metadata, { from: 'package-app' });
  assert.equal(status.running, true);
  assert.equal(await cli('call', 'Pkg/echo', 'echo', '{"n":1}').then((r) => r.n), 1);
});

test('connect() to etcd without etcd3 installed says to install it', async () => {
  const { stdout } = await run(process.execPath, ['etcd.mjs'], { cwd: app, env: userEnv() });
  assert.match(stdout, /^TABLE_UNAVAILABLE: .*etcd3 package.*npm install etcd3\n$/);
});

for (const [format, entry] of [
  ['esm', 'both.mjs'],
  ['cjs', 'both.cjs'],
] as const) {
  test(`an app bundled into one ${format} file starts its broker and calls, far from node_modules`, async () => {
    const away = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-bundle-'));
    tables.push(away);
    const bundle = path.join(away, `app.${format === 'esm' ? 'mjs' : 'cjs'}`);
    const result = await build({
      entryPoints: [path.join(app, entry)],
      bundle: true,
      platform: 'node',
      format,
      outfile: bundle,
      metafile: true,
      // A CommonJS bundle has no import.meta; runtable copes, and esbuild need not say so.
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(
      inputs.some((input) => input.includes('node_modules/runtable/')),
      'runtable is in the bundle',
    );
    assert.ok(!inputs.some((input) => /etcd3|@grpc/.test(input)), 'no etcd3, no gRPC');

    const dir = table();
    const { stdout } = await run(process.execPath, [bundle], { cwd: away, env: userEnv({ RUNTABLE_DIR: dir }) });
    assert.match(stdout, /^hello, bundle\n/);
    const pid = Number(/^broker (\d+)$/m.exec(stdout)?.[1]);
    assert.ok(isAlive(pid), 'the broker outlives the app, as one started by connect() does');
    // Not broker-main.js from some node_modules: the copy carried by the bundle, fed on stdin.
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    // After the broker's own node options (its semi-space size).
    const program = cmdline.indexOf('--input-type=module');
    assert.ok(program > 0, `the broker runs a program fed on stdin: ${cmdline.join(' ')}`);
    assert.deepEqual(cmdline.slice(program, program + 3), ['--input-type=module', '-', 'broker-main']);
    assert.deepEqual(brokerPids(dir), [pid]);
  });
}

test('bundling runtable leaves etcd3 and @opentelemetry/api to run time even where they are installed', async () => {
  const result = await build({
    stdin: { contents: "export { connect } from 'runtable';", resolveDir: ROOT, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    conditions: ['runtable-source'],
    absWorkingDir: ROOT,
    write: false,
    metafile: true,
    logLevel: 'error',
  });
  assert.ok(fs.existsSync(path.join(ROOT, 'node_modules', 'etcd3')), 'etcd3 is installed here');
  assert.ok(fs.existsSync(path.join(ROOT, 'node_modules', '@opentelemetry', 'api')), 'so is the OpenTelemetry API');
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.includes('src/naming/etcd/load.ts'), inputs.join(', '));
  assert.ok(inputs.includes('src/calls/tracing.ts'), inputs.join(', '));
  assert.ok(
    !inputs.some((input) => /node_modules\/(etcd3|@grpc|@opentelemetry)/.test(input)),
    'no etcd3, no gRPC, no OTel',
  );
});
