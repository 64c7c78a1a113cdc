// runtable across machines, as far as one machine can show it: the table on a private etcd,
// the owner listening on 127.0.0.2 and the client on 127.0.0.3, calls over TCP with mutual TLS.
// Run as a process: `runtable-tls.ts serve <etcd address> <prefix> <pem dir>` is an owner.

import fs from 'node:fs';
import path from 'node:path';
import { type ConnectOptions, connect } from 'runtable';
import { EtcdCluster } from '../../test/etcd-server.ts';
import { makeCertificates } from '../../test/tls-certs.ts';
import type { Client, Transport } from '../measure.ts';
import { exitWithParent, isPeerMain, spawnPeer, track } from '../procs.ts';
import { ECHO_MONIKER, type Echo, echoObject } from './runtable.ts';

function options(address: string, prefix: string, pemDir: string, host: string): ConnectOptions {
  const read = (name: string) => fs.readFileSync(path.join(pemDir, name));
  return {
    table: address,
    prefix,
    listen: { host, port: 0 },
    tls: { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') },
  };
}

async function serve(address: string, prefix: string, pemDir: string): Promise<void> {
  const table = await connect(options(address, prefix, pemDir, '127.0.0.2'));
  await table.register(ECHO_MONIKER, echoObject);
  console.log('ready');
}

export const runtableTls: Transport = {
  name: 'runtable tcp+tls',
  async open(dir) {
    const cluster = await EtcdCluster.start(1);
    for (const member of cluster.members) if (member.child?.pid) track(member.child.pid);
    const pem = makeCertificates('runtable-bench');
    fs.writeFileSync(path.join(dir, 'ca.pem'), pem.ca);
    fs.writeFileSync(path.join(dir, 'cert.pem'), pem.cert);
    fs.writeFileSync(path.join(dir, 'key.pem'), pem.key, { mode: 0o600 });
    const prefix = `bench${process.pid}`;
    const peer = await spawnPeer('runtable-tls', ['serve', cluster.address, prefix, dir], { bundled: true });
    const table = await connect(options(cluster.address, prefix, dir, '127.0.0.3'));
    const echo = await table.get<Echo>(ECHO_MONIKER);
    return {
      pids: [peer.pid],
      echo: (bytes) => echo.echo(bytes),
      sink: (bytes) => echo.sink(bytes),
      async close() {
        await table.close();
        peer.stop();
        await cluster.stop();
      },
    } satisfies Client;
  },
};

if (isPeerMain(import.meta.url, 'runtable-tls')) {
  exitWithParent();
  const [, address, prefix, pemDir] = process.argv.slice(2) as [string, string, string, string];
  await serve(address, prefix, pemDir);
}
