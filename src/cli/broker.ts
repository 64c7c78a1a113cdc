// runtable broker status|start|stop: the table's broker, for an operator. Stopping it is as safe
// as a crash: live owners register again with the next broker that starts.

import { setTimeout as sleep } from 'node:timers/promises';
import { connect, RuntableError } from '../index.js';
import { isAlive } from '../naming/liveness.js';
import { expectArgs, msOption, type Values } from './args.js';
import { type Command, type Context, noBrokerText, openTable } from './context.js';
import { EXIT, UsageError } from './exit.js';
import { note, print } from './output.js';

/** How long `broker stop` waits for the broker to exit, unless --timeout says otherwise. */
const STOP_WAIT_MS = 10_000;

export const broker: Command = {
  name: 'broker',
  summary: "the table's broker: status, start, stop",
  help: `Usage: runtable broker status [--json]
       runtable broker start [--idle-ms ms] [--json]
       runtable broker stop [--timeout ms]

status  pid, uptime, entries, connections (this command's own included), the
        table directory, the protocol version, and who waits in line for
        which moniker (register's queue). With no broker running it
        says so and exits 5 ({"running": false, ...} with --json).
start   starts a broker if none runs and prints its pid (exit 0 either way).
        The broker exits by itself after a quiet period with no connections.
stop    sends the broker SIGTERM and waits until it has exited. Live owners
        register their entries again with the next broker that starts (the
        first connect() of any owner or client starts one). Exits 0 if no
        broker was running.

Options:
  --json           status and start: one JSON object (the output whenever
                   stdout is not a terminal)
  --idle-ms <ms>   start: the idle exit of the broker it starts
                   (default RUNTABLE_BROKER_IDLE_MS, else 30000; 0: never)
  --timeout <ms>   stop: how long to wait for the exit (default 10000)

A table on etcd (--table, RUNTABLE_TABLE) has no broker: there this command
is refused with exit 2.

Examples:
  runtable broker status
  runtable broker start --idle-ms 0
  runtable broker stop && runtable broker status`,
  options: { json: { type: 'boolean' }, 'idle-ms': { type: 'string' }, timeout: { type: 'string' } },
  localOnly: 'a table on etcd has no broker: its names live in etcd',

  async run(context) {
    const { positionals, values } = context;
    expectArgs(positionals, ['status, start or stop'], 'broker');
    const action = positionals[0];
    const misplaced =
      (action !== 'start' && values['idle-ms'] !== undefined && '--idle-ms') ||
      (action !== 'stop' && values.timeout !== undefined && '--timeout') ||
      (action === 'stop' && values.json && '--json');
    if (misplaced) throw new UsageError(`option ${misplaced} does not apply to broker ${action}`, 'broker');
    switch (action) {
      case 'status':
        return status(context);
      case 'start':
        return start(context, idleOption(values));
      case 'stop':
        return stop(context, msOption(values, 'timeout', 'broker') ?? STOP_WAIT_MS);
      default:
        throw new UsageError(`unknown broker action "${action}"; use status, start or stop`, 'broker');
    }
  },
};

async function status(context: Context): Promise<number> {
  const table = await openTable(context);
  if (!table) {
    if (context.json) print(JSON.stringify({ running: false, dir: context.dir }));
    else print(noBrokerText(context.dir));
    return EXIT.UNAVAILABLE;
  }
  try {
    // The output names no backend: this command speaks only of a local broker.
    const { backend: _backend, ...figures } = await table.status();
    if (context.json) {
      print(JSON.stringify({ running: true, ...figures }, null, 2));
      return EXIT.OK;
    }
    const { out } = context;
    const field = (name: string, value: string) => print(`${out.bold(name.padEnd(13))}${value}`);
    field('pid', String(figures.pid));
    field('uptime', duration(figures.uptime));
    field('entries', String(figures.entries));
    field('connections', `${figures.connections} (this command's included)`);
    field('table', figures.dir);
    field('protocol', `version ${figures.version}`);
    for (const line of figures.waiting ?? []) {
      field('waiting', `${line.moniker}: ${line.pids.map((pid) => `pid ${pid}`).join(', ')}`);
    }
    return EXIT.OK;
  } finally {
    await table.close();
  }
}

async function start(context: Context, idleMs: number | undefined): Promise<number> {
  let table = await openTable(context);
  const started = !table;
  table ??= await connect({
    dir: context.dir,
    autoStart: true,
    debug: context.debug,
    ...(idleMs === undefined ? {} : { brokerIdleTimeout: idleMs }),
  });
  try {
    const { pid, dir } = await table.status();
    if (context.json) print(JSON.stringify({ pid, started, dir }));
    else if (started) print(`broker started, pid ${pid}, table ${dir}`);
    else print(`broker already running, pid ${pid}, table ${dir}`);
    if (!started && idleMs !== undefined) note('runtable: --idle-ms applies only to a broker this command starts');
    return EXIT.OK;
  } finally {
    await table.close();
  }
}

async function stop(context: Context, waitMs: number): Promise<number> {
  const table = await openTable(context);
  if (!table) {
    note(`runtable: ${noBrokerText(context.dir)}; nothing to stop`);
    return EXIT.OK;
  }
  let pid: number;
  try {
    pid = (await table.status()).pid;
  } finally {
    await table.close();
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
  const deadline = Date.now() + waitMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      throw new RuntableError('TIMEOUT', `broker ${pid} did not exit within ${waitMs} ms; kill -9 ${pid} ends it`);
    }
    await sleep(10);
  }
  print(`broker ${pid} stopped`);
  return EXIT.OK;
}

function idleOption(values: Values): number | undefined {
  const text = values['idle-ms'];
  if (text === undefined) return undefined;
  const ms = Number(text);
  if (typeof text !== 'string' || !Number.isInteger(ms) || ms < 0) {
    throw new UsageError(
      `--idle-ms must be a whole number of milliseconds (0: never), not "${String(text)}"`,
      'broker',
    );
  }
  return ms;
}

/** 850ms, 12.3s, 4m 05s, 2h 03m, 3d 04h. */
function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  if (seconds < 60) return `${(ms / 1000).toFixed(1)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${two(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ${two(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d ${two(Math.floor(seconds / 3600) % 24)}h`;
}
