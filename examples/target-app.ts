// The TargetApp of the COM Running Object Table sample: registers an ICommHelper under
// SampleServer/<name> and prints what it is sent. Run: node --import tsx examples/target-app.ts alpha
import { connect } from 'runtable';

export interface ICommHelper {
  sendData(data: string): string;
  received(): string[];
}

const name = process.argv[2] ?? `app-${process.pid}`;
const received: string[] = [];

const helper: ICommHelper = {
  sendData(data) {
    received.push(data);
    console.log(`[${name}] received: ${data}`);
    return `${name} got ${data.length} characters`;
  },
  received: () => received,
};

const table = await connect();
process.on('SIGTERM', async () => {
  await table.close();
  process.exit(0);
});
const reg = await table.register(`SampleServer/${name}`, helper, { metadata: { name, startedBy: 'target-app' } });
console.log(`[${name}] registered ${reg.moniker} (pid ${process.pid})`);
