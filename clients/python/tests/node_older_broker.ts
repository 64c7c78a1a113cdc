// A broker from before ListNames for the Python client's tests: a real broker on the directory
// given as the argument, behind a relay on $RUNTABLE_DIR's socket that refuses kind 22 as an older
// broker does (test/naming/older-broker.ts). Prints "ready", then "refused <n>" at each refusal.
import fs from 'node:fs';
import { startOlderBroker } from '../../../test/naming/older-broker.ts';

const brokerDir = process.argv[2];
const dir = process.env.RUNTABLE_DIR;
if (!brokerDir || !dir) throw new Error('usage: RUNTABLE_DIR=<dir> node_older_broker.ts <broker dir>');
fs.mkdirSync(brokerDir, { recursive: true, mode: 0o700 });
const { relay } = await startOlderBroker(brokerDir, dir, true);
relay.onRefused = () => console.log(`refused ${relay.refused}`);
console.log('ready');
