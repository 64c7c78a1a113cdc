// What the published .d.ts shows: the API contract, not the internals. Emits the declarations
// as `npm run build` does (tsconfig.build.json, stripInternal), then compiles a consumer
// against them: internal hooks and constructors must not be there, the public API must be.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from './helpers.ts';

/** Inside the repository, so the emitted declarations resolve @types/node and cbor-x as a user's would. */
const CACHE = path.join(ROOT, 'node_modules', '.cache');
// A fresh `npm ci` has no .cache until some tool makes one.
fs.mkdirSync(CACHE, { recursive: true });
const OUT = fs.mkdtempSync(path.join(CACHE, 'runtable-dts-'));
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

after(() => fs.rmSync(OUT, { recursive: true, force: true }));

function tsc(args: string[]): void {
  const run = spawnSync(process.execPath, [TSC, ...args], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 0, `tsc ${args.join(' ')} failed:\n${run.stdout}${run.stderr}`);
}

const CONSUMER = `
import { connect, type MethodStats, type ObjectStats, type Registration, type Table } from './dist/index.js';

const table = await connect();
const reg: Registration = await table.register('A/b', { ping: () => 'pong' });
reg.moniker;
reg.entry;
reg.active;
reg.emit('x', 1);
await reg.touch();
reg.on('lost', () => {});
await reg.revoke();
await table.list('A/');
const stats: ObjectStats = await table.stats('A/b');
const ping: MethodStats | undefined = stats.methods.ping;
const sum: number = stats.total.calls + stats.total.errors + (ping?.p99 ?? 0) + (stats.total.outcomes.REMOTE ?? 0);
const since: Date = stats.since;
const listed: ObjectStats[] = await table.listStats('A/');
await table.close();

// @ts-expect-error a backend hook, not public
reg.registration();
// @ts-expect-error a backend hook, not public
reg.restored;
// @ts-expect-error a backend hook, not public
reg.lost;
// @ts-expect-error a backend hook, not public
reg.end();
// @ts-expect-error the endpoint's object id is internal
reg.objectId;

declare const TableClass: typeof Table;
declare const RegistrationClass: typeof Registration;
// @ts-expect-error a Table comes from connect(), never from its constructor
new TableClass();
// @ts-expect-error nor from a factory
TableClass.create;
// @ts-expect-error a Registration comes from register()
new RegistrationClass();
// @ts-expect-error nor from a factory
RegistrationClass.create;
`;

test('the published declarations hide the backend hooks and constructors, and keep the API', () => {
  tsc([
    '-p',
    'tsconfig.build.json',
    '--emitDeclarationOnly',
    '--declarationMap',
    'false',
    '--outDir',
    path.join(OUT, 'dist'),
  ]);
  const registration = fs.readFileSync(path.join(OUT, 'dist', 'registration.d.ts'), 'utf8');
  const table = fs.readFileSync(path.join(OUT, 'dist', 'table.d.ts'), 'utf8');
  for (const hook of ['registration(', 'restored(', 'lost(', 'end(', 'objectId', 'create(', 'RegistrationHost)']) {
    assert.ok(!registration.includes(hook), `registration.d.ts shows ${hook}`);
  }
  assert.ok(!table.includes('create('), 'table.d.ts shows its factory');
  assert.match(table, /private constructor\(\);/, "Table's constructor is private and shows no parameters");
  assert.doesNotMatch(table, /NamingBackend|PeerOptions/, "table.d.ts names the Table's internals");
  fs.writeFileSync(path.join(OUT, 'consumer.ts'), CONSUMER);
  // Checked as a user's project would check them, declaration files included (skipLibCheck off).
  tsc([
    '--noEmit',
    '--strict',
    '--exactOptionalPropertyTypes',
    '--target',
    'es2022',
    '--lib',
    'es2024,esnext.disposable',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--types',
    'node',
    path.join(OUT, 'consumer.ts'),
  ]);
});
