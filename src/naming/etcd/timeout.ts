// A bound on how long runtable waits for etcd: etcd3's calls retry on their own and can wait
// without end while the cluster is away.

import { MAX_TIMER_MS } from '../../transport/keep-alive.js';

/** `work`, or a rejection after `ms` ms (never for a longer `ms` than a timer can count). */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  // setTimeout cannot count past 2^31 - 1 ms: a longer timeout is as good as none.
  if (!(ms <= MAX_TIMER_MS)) return work;
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
