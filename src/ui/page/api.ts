// The page's side of the viewer's HTTP API: the live feed, calls answered line by line, and event
// subscriptions. The token travels as a cookie set on the first load, so no URL here carries it.

import {
  type CallLine,
  type CallRequest,
  type EventLine,
  FEED_EVENT_TYPES,
  type FeedEvent,
  ROUTES,
  type StatsAnswer,
} from '../shared/viewer.js';

export interface FeedHandlers {
  /** The feed (re)opened: a snapshot follows, so forget what was shown. */
  open(): void;
  event(event: FeedEvent): void;
  /** The viewer's server cannot be reached; EventSource keeps trying. */
  lost(): void;
}

export function openFeed(handlers: FeedHandlers): EventSource {
  const source = new EventSource(ROUTES.feed);
  source.addEventListener('open', () => handlers.open());
  source.addEventListener('error', () => handlers.lost());
  for (const type of FEED_EVENT_TYPES) {
    source.addEventListener(type, (message) => handlers.event(JSON.parse((message as MessageEvent<string>).data)));
  }
  return source;
}

/** Sends one call and hands each line of the answer to `onLine` as it arrives. */
export async function call(request: CallRequest, onLine: (line: CallLine) => void, signal: AbortSignal) {
  const response = await fetch(ROUTES.call, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
    signal,
  });
  if (!response.ok || !response.body) {
    const text = (await response.text()).trim();
    onLine({ type: 'error', error: { code: `HTTP ${response.status}`, message: text || response.statusText } });
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += value;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line) onLine(JSON.parse(line) as CallLine);
      newline = pending.indexOf('\n');
    }
  }
}

/** Subscribes to `event` of `moniker`; close the returned source to stop. */
export function subscribe(moniker: string, event: string, onLine: (line: EventLine) => void): EventSource {
  const query = new URLSearchParams({ moniker, event });
  const source = new EventSource(`${ROUTES.events}?${query}`);
  for (const type of ['ready', 'event', 'failure'] as const) {
    source.addEventListener(type, (message) => {
      const line = JSON.parse((message as MessageEvent<string>).data) as EventLine;
      // A failure is final: EventSource would otherwise reconnect and fail again.
      if (line.type === 'failure') source.close();
      onLine(line);
    });
  }
  return source;
}

/** The object's call statistics, from its owner through the viewer. */
export async function fetchStats(moniker: string, signal: AbortSignal): Promise<StatsAnswer> {
  const response = await fetch(`${ROUTES.stats}?${new URLSearchParams({ moniker })}`, { signal });
  if (!response.ok) {
    const text = (await response.text()).trim();
    return { error: { code: `HTTP ${response.status}`, message: text || response.statusText } };
  }
  return (await response.json()) as StatsAnswer;
}
