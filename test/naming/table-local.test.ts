// The shared table behaviour on the local broker (Unix sockets, one machine).
import fs from 'node:fs';
import path from 'node:path';
import { tableBehaviour } from './table-behaviour.ts';

tableBehaviour({
  start: async () => {},
  stop: async () => {},
  fresh: (dir) => ({ options: { dir }, env: {} }),
  inLine: async (context, pid, moniker) =>
    fs.readFileSync(path.join(context.dir, 'broker.log'), 'utf8').includes(`pid ${pid} waits in line for ${moniker} `),
});
