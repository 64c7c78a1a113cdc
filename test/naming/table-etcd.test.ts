// The shared table behaviour on etcd: a private single-node etcd server, owners listening on
// 127.0.0.2 and the test's table on 127.0.0.3, calls over TCP with a shared secret.
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from '../etcd-server.ts';
import { tableBehaviour } from './table-behaviour.ts';

let cluster: EtcdCluster;
let tests = 0;
const SECRET = 'a shared secret for the tests';

tableBehaviour({
  start: async () => {
    cluster = await EtcdCluster.start(1);
  },
  stop: () => cluster.stop(),
  fresh: () => {
    const prefix = `t${++tests}`;
    return {
      options: {
        table: cluster.address,
        prefix,
        secret: SECRET,
        leaseTtl: 2,
        listen: { host: '127.0.0.3', port: 0 },
      },
      env: {
        RUNTABLE_TABLE: cluster.address,
        RUNTABLE_ETCD_PREFIX: prefix,
        RUNTABLE_SECRET: SECRET,
        RUNTABLE_LEASE_TTL: '2',
        RUNTABLE_LISTEN: '127.0.0.2:0',
      },
    };
  },
  inLine: async (context, pid, moniker) => {
    const client = new Etcd3({ hosts: cluster.members.map((member) => member.clientUrl) });
    try {
      const line = await client.getAll().prefix(`${context.options.prefix}/queue/${moniker}\u0000/`).strings();
      return Object.values(line).some((value) => (JSON.parse(value) as { pid: number }).pid === pid);
    } finally {
      client.close();
    }
  },
});
