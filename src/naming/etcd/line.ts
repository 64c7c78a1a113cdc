// Waiting in line for a moniker (hot standby), the way etcd's election recipe does it: each
// waiting process puts a key under the moniker's line, attached to its lease, and the one whose
// key has the lowest create revision takes the moniker once it is free. A waiter that dies
// leaves the line when its lease expires; one that aborts deletes its key.

import type { Etcd3, Watcher } from 'etcd3';
import { RuntableError } from '../../errors.js';
import type { KeyLayout } from './keys.js';

export interface LineOptions {
  /** This process's current lease id (it changes if the lease is lost). */
  lease(): Promise<string>;
  /** Tries to take the moniker; false if someone holds it. */
  claim(): Promise<boolean>;
  signal: AbortSignal;
}

/** Resolves once this process holds `moniker`; rejects with ABORTED when `signal` aborts. */
export async function waitInLine(
  client: Etcd3,
  layout: KeyLayout,
  moniker: string,
  options: LineOptions,
): Promise<void> {
  const { signal } = options;
  let wake: (() => void) | undefined;
  let dirty = false;
  const nudge = () => {
    dirty = true;
    wake?.();
  };
  signal.addEventListener('abort', nudge, { once: true });
  const watchers: Watcher[] = [];
  let place: string | undefined;
  try {
    // Watching before the first read: any change after that read wakes the loop.
    watchers.push(await client.watch().key(layout.entry(moniker)).create());
    watchers.push(await client.watch().prefix(layout.line(moniker)).create());
    for (const watcher of watchers) {
      watcher.on('put', nudge);
      watcher.on('delete', nudge);
    }
    for (;;) {
      if (signal.aborted) throw new RuntableError('ABORTED', `waiting in line for ${moniker} was aborted`);
      dirty = false;
      const lease = await options.lease();
      const mine = layout.place(moniker, lease);
      if (place !== mine) {
        // First time, or our lease was lost and our old place with it: join (again) at the back.
        await client
          .put(mine)
          .value(JSON.stringify({ pid: process.pid }))
          .lease(lease);
        place = mine;
      }
      const line = await client.getAll().prefix(layout.line(moniker)).sort('Create', 'Ascend').keys();
      if (!line.includes(mine)) {
        place = undefined;
        continue;
      }
      if (line[0] === mine && (await options.claim())) return;
      if (!dirty) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    }
  } finally {
    signal.removeEventListener('abort', nudge);
    for (const watcher of watchers) await watcher.cancel().catch(() => {});
    if (place)
      await client
        .delete()
        .key(place)
        .catch(() => {});
  }
}
