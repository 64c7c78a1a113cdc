// Waiting for a name: resolves once a moniker is registered, through the backend's watch (never
// by polling), so it works the same on a local broker and on etcd. It may also ask the backend
// to start the service that provides the name; the watch still decides when the wait is over.

import { RuntableError, signalError } from '../errors.js';
import { guardTimer, holdUntil } from '../transport/keep-alive.js';
import type { TableEventType, WireEntry } from '../wire/protocol.js';
import type { NamingBackend, WatchSink } from './backend.js';

export interface WaitForOptions {
  /** ms; Infinity waits without end. */
  timeout: number;
  signal?: AbortSignal;
  /** Ask the backend to start the service that provides the moniker, if any. */
  activate: boolean;
}

/** The moniker's entry once registered (at once if it is); TIMEOUT, ABORTED or ACTIVATION_FAILED otherwise. */
export function waitForEntry(backend: NamingBackend, moniker: string, options: WaitForOptions): Promise<WireEntry> {
  const { signal, timeout } = options;
  if (signal?.aborted) return Promise.reject(aborted(moniker, signal));
  // A wait holds the process, as a call in flight does (keep-alive.ts): the caller awaits it.
  return holdUntil(
    new Promise<WireEntry>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      /** Settles once the watch is in place (or failed): only then can it be taken down. */
      let watching: Promise<unknown> = Promise.resolve();
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        void watching.then(() => backend.unwatch(sink)).catch(() => {});
        outcome();
      };
      const found = (entry: WireEntry) => finish(() => resolve(entry));
      const failed = (error: RuntableError) => finish(() => reject(error));
      const onAbort = () => failed(aborted(moniker, signal as AbortSignal));
      const sink: WatchSink = {
        prefix: moniker,
        snapshot(entries: WireEntry[]) {
          const entry = entries.find((candidate) => candidate.moniker === moniker);
          if (entry) found(entry);
        },
        event(type: TableEventType, entry: WireEntry) {
          if (type !== 'revoked' && entry.moniker === moniker) found(entry);
        },
        fail: failed,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      watching = backend.watch(sink);
      watching.then(
        () => {
          if (settled) return;
          // Counted from here: a name registered when the wait began is found whatever the timeout.
          // The hold above keeps the process up while it runs; Infinity (or past what a timer can
          // count) means no timer at all.
          timer = guardTimer(timeout, () =>
            failed(new RuntableError('TIMEOUT', `${moniker} was not registered within ${timeout} ms`)),
          );
          if (!options.activate || !backend.activate) return;
          backend.activate(moniker).then(
            (entry) => {
              if (entry) found(entry);
            },
            (error: RuntableError) => {
              // A broker cut off mid-activation leaves the wait to the watch: the name may still come.
              if (error.code !== 'TABLE_UNAVAILABLE') failed(error);
            },
          );
        },
        (error: RuntableError) => failed(error),
      );
    }),
  );
}

function aborted(moniker: string, signal: AbortSignal): RuntableError {
  return signalError(signal, `the wait for ${moniker}`);
}
