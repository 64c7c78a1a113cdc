// The SourceApp of the COM Running Object Table sample: lists the SampleServer/ prefix and sends
// data to one server or to all.
// Run: node --import tsx examples/source-app.ts [name|--all] [message]
import { connect } from 'runtable';
import type { ICommHelper } from './target-app.js';

const [which = '--all', message = 'hello from source-app'] = process.argv.slice(2);

await using table = await connect();
const servers = await table.list('SampleServer/');
console.log(`${servers.length} live server(s):`);
for (const entry of servers) console.log(`  ${entry.moniker}  pid ${entry.pid}  methods ${entry.methods.join(', ')}`);

const targets = which === '--all' ? servers.map((e) => e.moniker) : [`SampleServer/${which}`];
for (const moniker of targets) {
  const server = await table.get<ICommHelper>(moniker);
  console.log(`${moniker} answered: ${await server.sendData(message)}`);
}
