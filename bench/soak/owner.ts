// A soak owner: serves bench/soak's traffic under soak/o<k>/main, emits a tick event every
// TICK_MS, and churns: registers a fresh moniker every CHURN_MS and revokes the one before, so
// the broker and watchers see a steady stream of registered and revoked.
import { connect, type Registration } from 'runtable';
import { exitWithParent } from '../procs.ts';

const TICK_MS = 20;
const CHURN_MS = 100;

const k = process.argv[2] ?? '0';
const table = await connect();
const service = {
  echo: <T>(value: T): T => value,
  /** `count` items, then the end: the client checks it got them all, in order. */
  async *items(count: number) {
    for (let i = 0; i < count; i++) yield i;
  },
  pid: () => process.pid,
};
const main = await table.register(`soak/o${k}/main`, service, { metadata: { role: 'soak owner' } });
const tick = setInterval(() => main.emit('tick', Date.now()), TICK_MS);
let churned: Registration | undefined;
let churning = true;
/** One step at a time: a step that outlasts CHURN_MS on a loaded machine delays the next. */
async function churn(n: number): Promise<void> {
  if (!churning) return;
  try {
    await churned?.revoke();
    churned = await table.register(`soak/o${k}/churn-${n}`, service, { metadata: { n } });
    if (n % 10 === 0) await main.touch();
  } catch (error) {
    console.error(`soak owner ${k}: churn failed: ${(error as Error).message}`);
    process.exit(1);
  }
  setTimeout(() => void churn(n + 1), CHURN_MS);
}
void churn(1);

exitWithParent();
process.on('SIGTERM', async () => {
  clearInterval(tick);
  churning = false;
  await table.close();
  process.exit(0);
});
console.log(`ready ${process.pid}`);
