// Server-Sent Events over a plain node:http response: named events with JSON data, a comment now
// and then so that idle connections are not taken for dead, and a cap on what a page that stops
// reading may leave buffered.

import type { IncomingMessage, ServerResponse } from 'node:http';

/** A keep-alive comment this often. */
const HEARTBEAT_MS = 15_000;
/** A page that leaves more than this unread is cut off; EventSource reconnects and gets a snapshot. */
export const MAX_SSE_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface EventStream {
  send(event: string, data: unknown): void;
  /** Runs `callback` once the page has gone (or `end` was called). */
  onClose(callback: () => void): void;
  end(): void;
  readonly closed: boolean;
}

export function openEventStream(request: IncomingMessage, response: ServerResponse): EventStream {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  response.write(': runtable\n\n');
  let closed = false;
  const callbacks: (() => void)[] = [];
  const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), HEARTBEAT_MS).unref();
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const callback of callbacks.splice(0)) callback();
  };
  request.once('close', close);
  response.once('close', close);
  return {
    send(event, data) {
      if (closed) return;
      if (response.writableLength > MAX_SSE_BUFFERED_BYTES) {
        response.destroy();
        return;
      }
      response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    onClose(callback) {
      if (closed) callback();
      else callbacks.push(callback);
    },
    end() {
      close();
      response.end();
    },
    get closed() {
      return closed;
    },
  };
}
