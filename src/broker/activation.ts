// Activation on demand, inside the broker: a moniker nobody holds that a service file names is
// registered by starting that file's command, once, however many callers ask, and even across a
// broker restart (the pid file in the table directory says who was started). The command runs
// detached from every client, its output in a log; callers learn why when it fails.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { RuntableError } from '../errors.js';
import { isAlive, processGroup, processStart } from '../naming/liveness.js';
import { serviceStatePaths } from '../transport/paths.js';
import type { ServiceInfo, WireEntry } from '../wire/protocol.js';
import { readServices, type ServiceFile, serviceFor } from './service-files.js';
import type { ObjectTable } from './table.js';

/** How much of the end of a command's output a failure quotes. */
export const ACTIVATION_TAIL_BYTES = 2000;
/** A service log is set aside as `.1` when a start finds it past this. */
const MAX_SERVICE_LOG_BYTES = 1024 * 1024;
/** How often a process started by an earlier broker is checked for having died (this one is not its parent). */
const ADOPTED_POLL_MS = 250;

export interface ActivationOptions {
  dir: string;
  table: ObjectTable;
  log: (line: string) => void;
  /** Where the service files are: resolved once, from the broker's environment. */
  serviceDirs: readonly string[];
}

interface Waiter {
  moniker: string;
  resolve(entry: WireEntry): void;
  reject(error: RuntableError): void;
}

/** One started command: by this broker (`child`) or by an earlier one (adopted from its pid file). */
interface Run {
  service: ServiceFile;
  pid: number;
  child?: ChildProcess;
  log: string;
  /** Where this run's output begins in the log. */
  logStart: number;
  waiters: Waiter[];
  timer?: NodeJS.Timeout | undefined;
  poll?: NodeJS.Timeout;
  /** It registered a moniker once: its exit is an owner's death, not a failed start. */
  served?: boolean;
}

/** What a pid file holds: the pid, and its start time so that a reused pid is not mistaken for it. */
interface PidRecord {
  pid: number;
  start?: string;
}

export class Activations {
  readonly #options: ActivationOptions;
  /** Service file path to its run. */
  readonly #runs = new Map<string, Run>();
  readonly #stopWatch: () => void;

  constructor(options: ActivationOptions) {
    this.#options = options;
    this.#stopWatch = options.table.watch('', (type, entry) => {
      if (type === 'registered') this.#registered(entry);
    });
  }

  /**
   * The entry of `moniker` once registered, starting the command of the service file that names
   * it if need be; null when no service file names it. Rejects with ACTIVATION_FAILED.
   */
  activate(moniker: string): Promise<WireEntry | null> {
    const held = this.#options.table.lookup(moniker);
    if (held) return Promise.resolve(held);
    const read = serviceFor(readServices(this.#options.serviceDirs), moniker);
    if (!read) return Promise.resolve(null);
    if (read.problem !== undefined) {
      this.#options.log(`not activating ${moniker}: ${read.problem}`);
      return Promise.reject(new RuntableError('ACTIVATION_FAILED', `cannot start ${moniker}: ${read.problem}`));
    }
    const service = read.service;
    let run = this.#runs.get(service.file);
    if (run && !runAlive(run)) {
      // Its exit is on its way; the next caller must not wait on a process that is gone.
      this.#end(run, `its command exited before registering`);
      run = this.#runs.get(service.file);
    } else if (run?.served) {
      this.#options.log(
        `service ${service.file}: pid ${run.pid} served before and still runs; waiting for it to register ${moniker} again`,
      );
    }
    let started: Run;
    try {
      started = run ?? this.#adopt(service) ?? this.#start(service, moniker);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      started.waiters.push({ moniker, resolve, reject });
      if (!started.timer) {
        started.timer = setTimeout(() => this.#timedOut(started), service.timeout);
        started.timer.unref();
      }
    });
  }

  /** Every service file with its problem, if any, and the pid of its running process. */
  services(): ServiceInfo[] {
    return listServices(this.#options.serviceDirs, this.#options.dir);
  }

  close(): void {
    this.#stopWatch();
    for (const run of this.#runs.values()) {
      clearTimeout(run.timer);
      clearInterval(run.poll);
      fail(run.waiters.splice(0), new RuntableError('TABLE_UNAVAILABLE', 'the broker is closing'));
    }
    this.#runs.clear();
  }

  /** A process an earlier broker started and that still runs: wait for it rather than start another. */
  #adopt(service: ServiceFile): Run | undefined {
    const paths = serviceStatePaths(this.#options.dir, service.file);
    const record = readPidRecord(paths.pid);
    if (!record || !recordAlive(record)) return undefined;
    const run: Run = { service, pid: record.pid, log: paths.log, logStart: fileSize(paths.log), waiters: [] };
    run.poll = setInterval(() => {
      if (!recordAlive(record)) this.#end(run, 'its command exited before registering');
    }, ADOPTED_POLL_MS);
    run.poll.unref();
    this.#runs.set(service.file, run);
    this.#options.log(`service ${service.file}: pid ${record.pid}, started earlier, still runs; waiting for it`);
    return run;
  }

  #start(service: ServiceFile, moniker: string): Run {
    const { dir, log } = this.#options;
    // spawn reports a missing cwd as the program not found: say what is really missing.
    if (service.cwd !== undefined && !fs.statSync(service.cwd, { throwIfNoEntry: false })?.isDirectory()) {
      throw new RuntableError(
        'ACTIVATION_FAILED',
        `cannot start ${moniker}: service file ${service.file} names the cwd ${service.cwd}, which is not a directory`,
      );
    }
    const paths = serviceStatePaths(dir, service.file);
    let fd: number;
    try {
      if (fileSize(paths.log) > MAX_SERVICE_LOG_BYTES) fs.renameSync(paths.log, `${paths.log}.1`);
      fd = fs.openSync(paths.log, 'a', 0o600);
      fs.writeSync(
        fd,
        `--- ${new Date().toISOString()} broker ${process.pid} starts ${JSON.stringify(service.command)} for ${moniker}\n`,
      );
    } catch (error) {
      throw new RuntableError(
        'ACTIVATION_FAILED',
        `cannot start ${moniker} from ${service.file}: cannot write ${paths.log}: ${(error as Error).message}`,
      );
    }
    const logStart = fs.fstatSync(fd).size;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...service.env,
      RUNTABLE_DIR: dir,
      RUNTABLE_SERVICE_FILE: service.file,
    };
    // The daemon registers on this table, not on one the broker's starter may have pointed at.
    delete env.RUNTABLE_TABLE;
    const [program, ...args] = service.command as [string, ...string[]];
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        cwd: service.cwd ?? os.homedir(),
        env,
        // Its own process group, no terminal, no pipe to anyone: it outlives the broker and every client.
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      fs.closeSync(fd);
    }
    const run: Run = { service, pid: child.pid ?? 0, child, log: paths.log, logStart, waiters: [] };
    this.#runs.set(service.file, run);
    child.once('error', (error) => this.#end(run, `its command could not be started (${error.message})`));
    child.once('exit', (code, signal) => {
      this.#end(run, `its command exited (${signal ? `signal ${signal}` : `code ${code}`}) before registering`);
    });
    child.unref();
    if (child.pid !== undefined) {
      writePidRecord(paths.pid, { pid: child.pid, ...optionalStart(child.pid) });
      log(`service ${service.file}: started pid ${child.pid} for ${moniker} (output in ${paths.log})`);
    }
    return run;
  }

  #registered(entry: WireEntry): void {
    if (this.#runs.size === 0) return;
    const group = processGroup(entry.pid);
    for (const run of [...this.#runs.values()]) {
      const mine = run.pid > 0 && (entry.pid === run.pid || group === run.pid);
      if (mine && !run.service.monikers.includes(entry.moniker)) {
        const names = run.service.monikers.join(', ');
        this.#fail(run, `its command registered ${entry.moniker}, which the file does not name (it names ${names})`);
        continue;
      }
      const done = run.waiters.filter((waiter) => waiter.moniker === entry.moniker);
      if (done.length === 0) continue;
      run.waiters = run.waiters.filter((waiter) => waiter.moniker !== entry.moniker);
      for (const waiter of done) waiter.resolve(entry);
      if (mine) {
        run.served = true;
        this.#options.log(`service ${run.service.file}: pid ${entry.pid} registered ${entry.moniker}`);
      }
      if (run.waiters.length === 0) {
        clearTimeout(run.timer);
        run.timer = undefined;
        // A process an earlier broker started needs no more watching once nobody waits on it.
        if (!run.child) this.#forget(run);
      }
    }
  }

  #timedOut(run: Run): void {
    run.timer = undefined;
    const monikers = [...new Set(run.waiters.map((waiter) => waiter.moniker))].join(', ');
    this.#fail(run, `its command did not register ${monikers} within ${run.service.timeout} ms`);
    // A command that registered nothing in all that time is stuck: stop it, so the next caller starts afresh.
    const holds = this.#options.table.holdsPid(run.pid);
    if (!holds && run.pid > 0) {
      this.#options.log(`service ${run.service.file}: stopping pid ${run.pid}, which registered nothing`);
      try {
        process.kill(-run.pid, 'SIGTERM');
      } catch {
        // Gone already.
      }
    }
  }

  /** Fails everyone waiting on `run`, naming the file and quoting the end of the command's output. */
  #fail(run: Run, why: string): void {
    const waiters = run.waiters.splice(0);
    clearTimeout(run.timer);
    run.timer = undefined;
    const message = `service file ${run.service.file}: ${why}; ${tail(run)}`;
    this.#options.log(`service ${run.service.file}: ${why}`);
    fail(waiters, new RuntableError('ACTIVATION_FAILED', message));
  }

  /**
   * The run's process is gone: forget it, and fail whoever still waits; or, if it had served,
   * start the command again for them. A killed owner's entries leave when its sockets close,
   * before the broker hears of its exit: a caller in between found its moniker gone and the run
   * still there, and waits for a registration only a new process can make.
   */
  #end(run: Run, why: string): void {
    if (this.#runs.get(run.service.file) !== run) return;
    const waiters = run.served ? run.waiters.splice(0) : [];
    if (run.waiters.length > 0) this.#fail(run, why);
    else this.#options.log(`service ${run.service.file}: pid ${run.pid} ended`);
    this.#forget(run);
    const pidFile = serviceStatePaths(this.#options.dir, run.service.file).pid;
    if (readPidRecord(pidFile)?.pid === run.pid) fs.rmSync(pidFile, { force: true });
    if (waiters.length > 0) this.#restart(run.service, waiters);
  }

  /** A new run of `service` for `waiters`, which waited on one that had served and then ended. */
  #restart(service: ServiceFile, waiters: Waiter[]): void {
    let run: Run;
    try {
      run = this.#start(service, (waiters[0] as Waiter).moniker);
    } catch (error) {
      fail(waiters, error as RuntableError);
      return;
    }
    run.waiters.push(...waiters);
    run.timer = setTimeout(() => this.#timedOut(run), service.timeout);
    run.timer.unref();
  }

  #forget(run: Run): void {
    clearTimeout(run.timer);
    clearInterval(run.poll);
    if (this.#runs.get(run.service.file) === run) this.#runs.delete(run.service.file);
  }
}

/** The service files of `dirs` as ServiceInfo, with the pid of each one's live process in `tableDir`. */
export function listServices(dirs: readonly string[], tableDir: string): ServiceInfo[] {
  return readServices(dirs).map((read) => {
    const info: ServiceInfo = { file: read.file, monikers: read.monikers };
    if (read.service) info.command = read.service.command;
    if (read.problem !== undefined) info.problem = read.problem;
    const record = readPidRecord(serviceStatePaths(tableDir, read.file).pid);
    if (record && recordAlive(record)) info.pid = record.pid;
    return info;
  });
}

function fail(waiters: Waiter[], error: RuntableError): void {
  for (const waiter of waiters) waiter.reject(error);
}

function runAlive(run: Run): boolean {
  if (run.child && (run.child.exitCode !== null || run.child.signalCode !== null)) return false;
  return run.pid > 0 && isAlive(run.pid);
}

function recordAlive(record: PidRecord): boolean {
  if (!isAlive(record.pid)) return false;
  return record.start === undefined || processStart(record.pid) === record.start;
}

function optionalStart(pid: number): { start?: string } {
  const start = processStart(pid);
  return start === undefined ? {} : { start };
}

function readPidRecord(file: string): PidRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as PidRecord;
    return Number.isSafeInteger(record.pid) && record.pid > 0 ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Written whole or not at all: a broker that dies mid-write leaves the old record or none. */
function writePidRecord(file: string, record: PidRecord): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, JSON.stringify(record), { mode: 0o600 });
  fs.renameSync(temporary, file);
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The end of what the run's command wrote, for a failure's message. */
function tail(run: Run): string {
  let text = '';
  try {
    const fd = fs.openSync(run.log, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const from = Math.max(run.logStart, size - ACTIVATION_TAIL_BYTES);
      const buffer = Buffer.alloc(Math.max(0, size - from));
      fs.readSync(fd, buffer, 0, buffer.length, from);
      text = buffer.toString('utf8').trim();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // No log: nothing to quote.
  }
  return text === '' ? `it wrote nothing (log ${run.log})` : `the end of its output (log ${run.log}):\n${text}`;
}
