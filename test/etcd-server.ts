// Private etcd servers for the tests: on loopback, on free ports, with temporary data
// directories, ready when their health endpoint says so, and always killed afterwards.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ConnectOptions } from 'runtable';
import { waitFor } from './helpers.ts';

export const ETCD_BINARY = '/usr/bin/etcd';
const INSTALL = 'apt-get install -y etcd-server';

/** Installs etcd-server when it is missing and we may (root with apt); otherwise says how. */
export function ensureEtcdInstalled(): void {
  if (fs.existsSync(ETCD_BINARY)) return;
  if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    execFileSync('apt-get', ['update', '-qq'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    execFileSync('apt-get', ['install', '-y', '-qq', 'etcd-server'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (!fs.existsSync(ETCD_BINARY)) throw new Error(`these tests need etcd: run \`sudo ${INSTALL}\``);
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess | undefined;
  log: string;
}

export class EtcdCluster {
  readonly members: EtcdMember[];
  readonly #root: string;

  private constructor(members: EtcdMember[], root: string) {
    this.members = members;
    this.#root = root;
  }

  /** One member or several, started and healthy. */
  static async start(size = 1): Promise<EtcdCluster> {
    ensureEtcdInstalled();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-etcd-'));
    const members: EtcdMember[] = [];
    for (let i = 0; i < size; i++) {
      members.push({
        name: `m${i}`,
        clientUrl: `http://127.0.0.1:${await freePort()}`,
        peerUrl: `http://127.0.0.1:${await freePort()}`,
        dataDir: path.join(root, `m${i}`),
        child: undefined,
        log: '',
      });
    }
    const cluster = new EtcdCluster(members, root);
    try {
      for (const member of members) cluster.#spawn(member);
      await Promise.all(members.map((member) => cluster.waitHealthy(member)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** "etcd://127.0.0.1:p1,127.0.0.1:p2" */
  get address(): string {
    return `etcd://${this.members.map((member) => member.clientUrl.replace('http://', '')).join(',')}`;
  }

  async kill(member: EtcdMember): Promise<void> {
    const child = member.child;
    member.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed member again on its data directory and ports. */
  async restart(member: EtcdMember): Promise<void> {
    this.#spawn(member, 'existing');
    await this.waitHealthy(member);
  }

  async waitHealthy(member: EtcdMember, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        if (!member.child || member.child.exitCode !== null) {
          throw new Error(`etcd ${member.name} exited: ${member.log.slice(-2000)}`);
        }
        try {
          const response = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await response.json()) as { health?: string };
          return body.health === 'true';
        } catch {
          return false;
        }
      },
      timeoutMs,
      `etcd ${member.name} to be healthy`,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((member) => this.kill(member)));
    fs.rmSync(this.#root, { recursive: true, force: true });
  }

  #spawn(member: EtcdMember, state: 'new' | 'existing' = 'new'): void {
    const initialCluster = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const child = spawn(
      ETCD_BINARY,
      [
        '--name',
        member.name,
        '--data-dir',
        member.dataDir,
        '--listen-client-urls',
        member.clientUrl,
        '--advertise-client-urls',
        member.clientUrl,
        '--listen-peer-urls',
        member.peerUrl,
        '--initial-advertise-peer-urls',
        member.peerUrl,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        state,
        '--initial-cluster-token',
        path.basename(this.#root),
        // Elections in a loopback cluster need not wait for a real network.
        '--heartbeat-interval',
        '50',
        '--election-timeout',
        '500',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      member.log = (member.log + chunk).slice(-20_000);
    });
    member.child = child;
  }
}

export const TEST_SECRET = 'a shared secret for the tests';
let prefixes = 0;

/** Options for a table on `address` listening on `host`, and the environment a fixture needs for it. */
export function etcdTable(
  address: string,
  host: string,
  prefix = `p${process.pid}-${++prefixes}`,
): { options: ConnectOptions; env: NodeJS.ProcessEnv; prefix: string } {
  return {
    prefix,
    options: { table: address, prefix, secret: TEST_SECRET, leaseTtl: 2, listen: { host, port: 0 } },
    env: {
      RUNTABLE_TABLE: address,
      RUNTABLE_ETCD_PREFIX: prefix,
      RUNTABLE_SECRET: TEST_SECRET,
      RUNTABLE_LEASE_TTL: '2',
      RUNTABLE_LISTEN: '127.0.0.2:0',
    },
  };
}

/** The member that leads the cluster now. */
export async function leaderOf(cluster: EtcdCluster): Promise<EtcdMember> {
  for (const member of cluster.members) {
    const response = await fetch(`${member.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}' });
    const status = (await response.json()) as { leader?: string; header?: { member_id?: string } };
    if (status.leader !== undefined && status.leader === status.header?.member_id) return member;
  }
  throw new Error('the cluster has no leader');
}
