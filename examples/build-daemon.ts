// A daemon started on demand: a service file names Build/daemon and this command, so the broker
// starts it the first time someone asks for the name; it leaves by itself once no client has
// been connected for a while. Run it through a service file (see README, "Activation").
import { connect } from 'runtable';

export interface BuildDaemon {
  build(target: string): string;
}

const IDLE_MS = Number(process.env.BUILD_DAEMON_IDLE_MS ?? 10_000);
let builds = 0;

const daemon: BuildDaemon = {
  build(target) {
    builds++;
    return `built ${target} (build ${builds} of daemon ${process.pid})`;
  },
};

const table = await connect();
const reg = await table.register('Build/daemon', daemon, { idle: { after: IDLE_MS } });
reg.on('idle', async () => {
  console.log(`no client for ${IDLE_MS} ms after ${builds} builds: leaving`);
  await table.close();
  process.exit(0);
});
console.log(`Build/daemon ready (pid ${process.pid})`);
