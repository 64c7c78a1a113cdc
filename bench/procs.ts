// The processes a bench run starts: peers, private dbus-daemons, brokers. Every one is recorded
// here and killed at the end, on error and on Ctrl-C; nothing the bench starts may outlive it.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
/**
 * Peers run with the bench's own node flags: through tsx, and with --conditions=runtable-source
 * (the library from src/) exactly when the bench has it; without it they load dist/.
 */
const NODE_FLAGS = process.execArgv.length ? process.execArgv : ['--import', 'tsx', '--conditions=runtable-source'];
/** A broker a crashed bench left behind exits by itself after this long idle. */
export const BROKER_IDLE_MS = 5000;
/** How long a peer may take to print its ready line. */
const READY_TIMEOUT_MS = 30_000;

const pids = new Set<number>();
const dirs = new Set<string>();

/** Records a process to kill at the end (a broker, found through its table's status). */
export function track(pid: number): void {
  pids.add(pid);
}

export function kill(pid: number): void {
  pids.delete(pid);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** A private temporary directory, short enough for socket paths, removed at the end. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rtb-${prefix}-`));
  dirs.add(dir);
  return dir;
}

export function cleanupAll(): void {
  for (const pid of [...pids]) kill(pid);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** Kills everything at exit, on Ctrl-C and on a crash. */
export function installCleanup(): void {
  process.on('exit', cleanupAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanupAll();
      process.exit(130);
    });
  }
}

/** Where bundled peers are written: under node_modules, so their external imports resolve from there. */
const BUNDLE_DIR = path.join(BENCH_DIR, '..', 'node_modules', '.cache', 'runtable-bench');
const bundles = new Map<string, Promise<string>>();

/**
 * bench/peers/<name>.ts bundled into one plain JavaScript file (runtable from its sources, the
 * other packages left to node_modules), once per run: a peer that runs without tsx. Processes
 * whose size is measured, such as the owners killed in (f), are run this way on both sides, so
 * that neither carries tsx's loader thread and the transpiled sources of the other.
 */
export function bundlePeer(name: string): Promise<string> {
  let bundle = bundles.get(name);
  if (!bundle) {
    bundle = (async () => {
      // Imported here, not at the top: every peer imports this file, and an owner killed in (f)
      // that loaded esbuild (and had its CommonJS lexed) carried 5 to 7 MiB more, on both sides.
      const { build } = await import('esbuild');
      const result = await build({
        entryPoints: [path.join(BENCH_DIR, 'peers', `${name}.ts`)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        conditions: ['runtable-source'],
        packages: 'external',
        // runtable itself is bundled from src/ (the condition above), as a user's app bundles it.
        alias: { runtable: path.join(BENCH_DIR, '..', 'src', 'index.ts') },
        write: false,
        logLevel: 'error',
      });
      const code = result.outputFiles[0]?.contents;
      if (!code) throw new Error(`esbuild produced nothing for bench/peers/${name}.ts`);
      fs.mkdirSync(BUNDLE_DIR, { recursive: true });
      const file = path.join(BUNDLE_DIR, `${name}.mjs`);
      const partial = `${file}.${process.pid}`;
      fs.writeFileSync(partial, code);
      fs.renameSync(partial, file);
      // The real path: a peer knows it is run as the main module by comparing it with its own URL.
      return fs.realpathSync(file);
    })();
    bundles.set(name, bundle);
  }
  return bundle;
}

/** Set in a bundled peer's environment to the peer's name (see isPeerMain). */
const PEER_ENV = 'RUNTABLE_BENCH_PEER';

/**
 * Whether the module at `url`, bench/peers/<name>.ts, is what this process runs. In a bundle
 * every module has the bundle's URL (runtable-tls.ts imports runtable.ts), so there the name
 * spawnPeer gave decides.
 */
export function isPeerMain(url: string, name: string): boolean {
  const bundled = process.env[PEER_ENV];
  return bundled === undefined ? process.argv[1] === fileURLToPath(url) : bundled === name;
}

export interface Peer {
  child: ChildProcess;
  pid: number;
  /** What followed "ready" on the peer's ready line. */
  info: string;
  stop(): void;
}

/**
 * Starts bench/peers/<name>.ts (or bench/<name>.ts for a name with a slash) with `args` and waits
 * for its "ready ..." line on stdout. The peer's stdin is a pipe it watches, so it also exits if
 * this process dies without cleaning up. `bundled`: its bundle (bundlePeer) runs with plain node.
 */
export async function spawnPeer(
  name: string,
  args: string[],
  options: { ipc?: boolean; bundled?: boolean } = {},
): Promise<Peer> {
  const command = options.bundled
    ? [await bundlePeer(name)]
    : [...NODE_FLAGS, path.join(BENCH_DIR, ...(name.includes('/') ? [] : ['peers']), `${name}.ts`)];
  const child = spawn(process.execPath, [...command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
    serialization: 'advanced',
    env: {
      ...process.env,
      RUNTABLE_BROKER_IDLE_MS: String(BROKER_IDLE_MS),
      ...(options.bundled ? { [PEER_ENV]: name } : {}),
    },
  });
  const pid = child.pid as number;
  track(pid);
  const stop = () => kill(pid);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`peer ${name} printed no ready line in ${READY_TIMEOUT_MS} ms; stderr: ${stderr}`));
    }, READY_TIMEOUT_MS);
    const onData = (chunk: string) => {
      out += chunk;
      const line = /^ready ?(.*)$/m.exec(out);
      if (!line) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve({ child, pid, info: line[1] ?? '', stop });
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.once('exit', (code, signal) => {
      pids.delete(pid);
      clearTimeout(timer);
      reject(new Error(`peer ${name} exited (${signal ?? code}) before it was ready; stderr: ${stderr}`));
    });
  });
}

/** For peers: exit when the bench that started us goes away, however it went. */
export function exitWithParent(): void {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && fs.existsSync(path.join(dir, command)));
}

export const DBUS_INSTALL = 'sudo apt-get install -y dbus-daemon';

/** Under CI as root a missing dbus-daemon is installed; anywhere else the error says how. */
function ensureDbusDaemon(): void {
  if (onPath('dbus-daemon')) return;
  if (process.env.CI === 'true' && process.getuid?.() === 0) {
    console.error('dbus-daemon is missing: installing it with apt-get (CI, root)');
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'dbus-daemon'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (onPath('dbus-daemon')) return;
  }
  throw new Error(`dbus-daemon is not installed; install it with: ${DBUS_INSTALL}`);
}

export interface DbusDaemon {
  address: string;
  pid: number;
  stop(): void;
}

/** A private bus: our own config, our own socket, started and killed by the bench. */
export async function startDbusDaemon(): Promise<DbusDaemon> {
  ensureDbusDaemon();
  const dir = tempDir('dbus');
  const socket = path.join(dir, 'bus');
  const config = path.join(dir, 'bus.conf');
  // Limits raised so that 10,000 names, 100 connections and 100 MB messages fit.
  fs.writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_message_size">268435456</limit>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_names_per_connection">50000</limit>
  <limit name="max_match_rules_per_connection">50000</limit>
  <limit name="max_connections_per_user">10000</limit>
  <limit name="max_completed_connections">10000</limit>
  <limit name="max_replies_per_connection">50000</limit>
</busconfig>
`,
  );
  const child = spawn(
    'dbus-daemon',
    [
      `--config-file=${config}`,
      '--print-address',
      '--nofork',
      '--nopidfile',
      '--nosyslog',
      `--address=unix:path=${socket}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = child.pid as number;
  track(pid);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code}) at start: ${stderr}`)));
    child.once('error', reject);
  });
  return { address, pid, stop: () => kill(pid) };
}

/** Resident set size of a process, MiB, from /proc. */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for pid ${pid}`);
  return kb / 1024;
}

export const canPin = onPath('taskset');

/** Sets the CPU affinity of every thread of each process; returns the masks to restore. */
export function pin(targets: number[], cpus: string): Map<number, string> {
  const previous = new Map<number, string>();
  for (const pid of targets) {
    const out = execFileSync('taskset', ['-p', String(pid)], { encoding: 'utf8' });
    previous.set(pid, out.trim().split(/\s+/).pop() ?? 'ffffffff');
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  }
  return previous;
}

export function unpin(previous: Map<number, string>): void {
  for (const [pid, mask] of previous) {
    try {
      execFileSync('taskset', ['-a', '-p', mask, String(pid)], { stdio: 'ignore' });
    } catch {
      // The process is gone.
    }
  }
}
