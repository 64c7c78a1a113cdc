// A bound on how long runtable waits for etcd (etcd3's calls retry on their own and can wait
// without end while the cluster is away), and what a wait that fails says.

import { RuntableError } from '../../errors.js';
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

/** `work`, or TABLE_UNAVAILABLE naming etcd's `address` and `what` was being done, if it fails or takes over `ms`. */
export async function answerWithin<T>(work: Promise<T>, ms: number, address: string, what: string): Promise<T> {
  try {
    return await withTimeout(work, ms);
  } catch (error) {
    if (error instanceof RuntableError) throw error;
    throw new RuntableError(
      'TABLE_UNAVAILABLE',
      `etcd at ${address} failed while ${what}: ${grpcReason(error as Error)}`,
      {
        cause: error,
      },
    );
  }
}

/** gRPC's message without the "Resolution note: " it leaves dangling when it has no note. */
function grpcReason(error: Error): string {
  return String(error.message).replace(/[.\s]*Resolution note:\s*$/, '');
}
