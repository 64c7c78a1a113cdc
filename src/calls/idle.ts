// An owner that may leave when nobody uses it: tells a registration when no client has been
// connected to this process's endpoint for a while (Binder's client-count callback), so that a
// daemon started on demand can exit by itself. It only tells; leaving is the owner's choice.

/** What idle tracking needs of an endpoint: how many clients are connected, and when that changes. */
export interface ClientCount {
  readonly clients: number;
  onClients(listener: (count: number) => void): () => void;
}

/** Calls `onIdle` each time the endpoint has had no client for `after` ms; returns the stop function. */
export function watchIdle(endpoint: ClientCount, after: number, onIdle: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let last = -1;
  const changed = (count: number) => {
    if ((count === 0) === (last === 0)) return;
    last = count;
    clearTimeout(timer);
    timer = undefined;
    if (count > 0) return;
    timer = setTimeout(onIdle, after);
    // A guard: the owner's endpoint is what keeps it running, not this timer.
    timer.unref();
  };
  const stop = endpoint.onClients(changed);
  changed(endpoint.clients);
  return () => {
    stop();
    clearTimeout(timer);
  };
}
