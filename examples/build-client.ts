// The tool side of the daemon pattern: asks for Build/daemon and calls it. If no daemon runs,
// get() has the broker start it from its service file and waits for it: no start-and-poll loop.
// Run: node --import tsx examples/build-client.ts <target>
import { connect } from 'runtable';
import type { BuildDaemon } from './build-daemon.ts';

const table = await connect();
const daemon = await table.get<BuildDaemon>('Build/daemon');
console.log(await daemon.build(process.argv[2] ?? 'all'));
await table.close();
