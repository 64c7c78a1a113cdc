// Calls and event subscriptions made on a page's behalf. A call's answer is NDJSON written as it
// happens, so a streaming method's items reach the page one by one; the page going away cancels
// the call (the owner is told) or ends the subscription. Only exposed methods are ever called.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MethodStats } from '../index.js';
import { on, RuntableError, withOptions } from '../index.js';
import { isStream, toJsonValue } from '../text/values.js';
import type { TableFeed } from './feed.js';
import type { CallLine, CallRequest, EventLine, StatsAnswer, ViewerError, ViewerMethodStats } from './shared/viewer.js';
import { GONE_CODES } from './shared/viewer.js';
import { openEventStream } from './sse.js';

/** The largest call request body taken; larger ones get 413 before they are read whole. */
export const MAX_CALL_BODY_BYTES = 1024 * 1024;

type Method = (...args: unknown[]) => Promise<unknown>;

/** A request the viewer itself refuses, with the HTTP status to answer. */
export class RequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function readCallRequest(request: IncomingMessage): Promise<CallRequest> {
  const type = request.headers['content-type'] ?? '';
  // Forms and other "simple" cross-site requests cannot send this type without a preflight.
  if (!/^application\/json\b/i.test(type)) throw new RequestError(415, 'a call is a JSON body (application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CALL_BODY_BYTES) throw new RequestError(413, `a call body is at most ${MAX_CALL_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RequestError(400, 'the call body is not valid JSON');
  }
  const { moniker, method, args } = (body ?? {}) as Partial<CallRequest>;
  if (typeof moniker !== 'string' || typeof method !== 'string' || !Array.isArray(args)) {
    throw new RequestError(400, 'a call is {moniker: string, method: string, args: array}');
  }
  return { moniker, method, args };
}

/** Runs one call and writes its answer; never throws (everything ends up as a line). */
export async function runCall(call: CallRequest, feed: TableFeed, request: IncomingMessage, response: ServerResponse) {
  response.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
  const send = (line: CallLine) => response.write(`${JSON.stringify(toJsonValue(line))}\n`);
  const gone = new AbortController();
  response.once('close', () => gone.abort());
  let counted = false;
  try {
    const table = feed.table;
    if (!table) throw new RuntableError('TABLE_UNAVAILABLE', 'no broker is running for this table');
    const entry = await table.lookup(call.moniker);
    if (!entry) throw new RuntableError('NOT_REGISTERED', `nothing is registered as ${call.moniker}`);
    if (!entry.methods.includes(call.method)) {
      throw new RuntableError('NO_SUCH_METHOD', `${call.moniker} has no method "${call.method}"`);
    }
    const remote = withOptions(await table.get(call.moniker), { signal: gone.signal }) as unknown as Record<
      string,
      Method
    >;
    feed.count(call.moniker, 'calls');
    counted = true;
    const result = await (remote[call.method] as Method)(...call.args);
    if (!isStream(result)) {
      send({ type: 'result', value: result });
      return;
    }
    let items = 0;
    const iterator = result[Symbol.asyncIterator]();
    const aborted = new Promise<'aborted'>((resolve) => {
      if (gone.signal.aborted) resolve('aborted');
      gone.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    for (;;) {
      const step = await Promise.race([iterator.next(), aborted]);
      if (step === 'aborted') {
        // The page stopped reading: stop the owner's iterator too.
        await Promise.resolve(iterator.return?.()).catch(() => {});
        return;
      }
      if (step.done) break;
      items += 1;
      feed.count(call.moniker, 'items');
      send({ type: 'item', value: step.value });
    }
    send({ type: 'end', items });
  } catch (error) {
    if (counted) feed.count(call.moniker, 'failures');
    const record = toViewerError(error);
    if (GONE_CODES.includes(record.code)) feed.forget(call.moniker);
    if (!gone.signal.aborted) send({ type: 'error', error: record });
  } finally {
    response.end();
    request.resume();
  }
}

/** Subscribes to `event` of `moniker` for as long as the page listens. */
export async function runSubscription(
  moniker: string,
  event: string,
  feed: TableFeed,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const stream = openEventStream(request, response);
  const send = (line: EventLine) => stream.send(line.type, toJsonValue(line));
  try {
    const table = feed.table;
    if (!table) throw new RuntableError('TABLE_UNAVAILABLE', 'no broker is running for this table');
    const remote = await table.get(moniker);
    if (stream.closed) return;
    const off = on(remote, event, (...args: unknown[]) => {
      feed.count(moniker, 'events');
      send({ type: 'event', args, at: new Date().toISOString() });
    });
    stream.onClose(off);
    await off.ready;
    send({ type: 'ready' });
  } catch (error) {
    const record = toViewerError(error);
    if (GONE_CODES.includes(record.code)) feed.forget(moniker);
    send({ type: 'failure', error: record });
    stream.end();
  }
}

/** An object's statistics, asked of its owner for the page; never throws (a failure is the answer). */
export async function readStats(moniker: string, feed: TableFeed): Promise<StatsAnswer> {
  try {
    const table = feed.table;
    if (!table) throw new RuntableError('TABLE_UNAVAILABLE', 'no broker is running for this table');
    const stats = await table.stats(moniker);
    const json = (figures: MethodStats): ViewerMethodStats => ({ ...figures, since: figures.since.toISOString() });
    return {
      stats: {
        moniker: stats.moniker,
        pid: stats.pid,
        since: stats.since.toISOString(),
        methods: Object.fromEntries(Object.entries(stats.methods).map(([name, figures]) => [name, json(figures)])),
        total: json(stats.total),
      },
    };
  } catch (error) {
    return { error: toViewerError(error) };
  }
}

export function toViewerError(error: unknown): ViewerError {
  if (error instanceof RuntableError) {
    const record: ViewerError = { code: error.code, message: error.message };
    if (error.remote) {
      record.name = error.remote.name;
      if (error.remote.code !== undefined) record.remoteCode = toJsonValue(error.remote.code);
    }
    return record;
  }
  return { code: 'VIEWER', message: error instanceof Error ? error.message : String(error) };
}
