// Entry point of the detached broker process that connect() starts on demand. Its stdout and
// stderr go to the table's log file; it tells its parent "ready" over IPC once it listens.

import { parseArgs } from 'node:util';
import { DEFAULT_IDLE_EXIT_MS, startBroker } from './broker.js';

const { values } = parseArgs({
  options: { dir: { type: 'string' }, 'idle-ms': { type: 'string' } },
  // A broker run from its bundled copy on stdin is named "broker-main" by a positional.
  allowPositionals: true,
});
if (!values.dir) {
  process.stderr.write('usage: broker-main --dir <table directory> [--idle-ms N]\n');
  process.exit(2);
}

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
const idleMs = values['idle-ms'] === undefined ? DEFAULT_IDLE_EXIT_MS : Number(values['idle-ms']);
if (!Number.isFinite(idleMs) || idleMs < 0) {
  process.stderr.write(`--idle-ms must be a number of ms (0: never), not ${values['idle-ms']}\n`);
  process.exit(2);
}

try {
  const broker = await startBroker({
    dir: values.dir,
    idleMs,
    log,
    onIdle: () => void stop(),
  });
  const stop = async () => {
    await broker.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => {
    log('SIGTERM; exiting');
    void stop();
  });
  process.on('SIGINT', () => void stop());
  if (process.send) process.send('ready', () => process.disconnect());
} catch (error) {
  log(`failed to start: ${(error as Error).message}`);
  process.send?.({ error: (error as Error).message });
  process.exit(1);
}
