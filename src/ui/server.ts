// The viewer's HTTP server: loopback only, every request checked by the Guard, the page's three
// files, the live feed as Server-Sent Events, and the call and event endpoints. It holds no state
// of its own beyond the feed: a page can reload at any time and gets a fresh snapshot.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toJsonValue } from '../text/values.js';
import { type Asset, loadPage } from './assets.js';
import { RequestError, readCallRequest, readStats, runCall, runSubscription } from './calls.js';
import { type OpenTable, TableFeed } from './feed.js';
import { Guard, newToken } from './guard.js';
import { ROUTES, TOKEN_PARAM } from './shared/viewer.js';
import { openEventStream } from './sse.js';

/** The only address the viewer listens on: it must never be reachable from another machine. */
export const HOST = '127.0.0.1';

export interface ViewerOptions {
  /** The table directory (or etcd address), shown on the page. */
  dir: string;
  /** Where the table's names live; default 'broker'. */
  backend?: 'broker' | 'etcd';
  /** Opens the table when a broker runs; the viewer never starts one. */
  open: OpenTable;
  /** 0 or absent: a free port. */
  port?: number;
  /** Where the built page lives; by default dist/ui/page of this package. */
  pageDir?: string;
}

export interface Viewer {
  /** The address to open, token included. */
  url: string;
  port: number;
  /** The address actually bound: always 127.0.0.1. */
  address: string;
  token: string;
  feed: TableFeed;
  close(): Promise<void>;
}

/** Headers for every answer: nothing cached, nothing framed, the token never sent on as a referrer. */
const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function startViewer(options: ViewerOptions): Promise<Viewer> {
  const page = loadPage(options.pageDir);
  const token = newToken();
  const feed = new TableFeed(options.dir, options.open, options.backend);
  let guard: Guard | undefined;

  const server = http.createServer((request, response) => {
    for (const [name, value] of Object.entries(COMMON_HEADERS)) response.setHeader(name, value);
    const url = new URL(request.url ?? '/', `http://${HOST}`);
    const verdict = guard?.check(request, url) ?? { ok: false as const, reason: 'not ready' };
    if (!verdict.ok) {
      request.resume();
      return answer(response, 403, `forbidden: ${verdict.reason}; open the URL runtable ui printed\n`);
    }
    if (verdict.fromUrl) response.setHeader('set-cookie', (guard as Guard).cookie());
    route(request, response, url).catch((error: unknown) => {
      const status = error instanceof RequestError ? error.status : 500;
      if (!response.headersSent) answer(response, status, `${(error as Error).message}\n`);
      else response.destroy();
    });
  });

  async function route(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const method = request.method ?? 'GET';
    const expect = (wanted: string) => {
      if (method !== wanted) throw new RequestError(405, `${url.pathname} takes ${wanted}`);
    };
    switch (url.pathname) {
      case ROUTES.page:
      case '/index.html':
        expect('GET');
        return serve(response, page.html, { 'content-security-policy': PAGE_POLICY });
      case ROUTES.script:
        expect('GET');
        return serve(response, page.script);
      case ROUTES.styles:
        expect('GET');
        return serve(response, page.styles);
      case ROUTES.feed: {
        expect('GET');
        const stream = openEventStream(request, response);
        stream.onClose(feed.listen((event) => stream.send(event.type, toJsonValue(event))));
        return;
      }
      case ROUTES.call: {
        expect('POST');
        const call = await readCallRequest(request);
        return runCall(call, feed, request, response);
      }
      case ROUTES.events: {
        expect('GET');
        const moniker = url.searchParams.get('moniker');
        const event = url.searchParams.get('event');
        if (!moniker || !event) throw new RequestError(400, 'events need ?moniker= and &event=');
        return runSubscription(moniker, event, feed, request, response);
      }
      case ROUTES.stats: {
        expect('GET');
        const moniker = url.searchParams.get('moniker');
        if (!moniker) throw new RequestError(400, 'statistics need ?moniker=');
        const body = Buffer.from(JSON.stringify(await readStats(moniker, feed)));
        response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
        response.end(body);
        return;
      }
      default:
        request.resume();
        return answer(response, 404, `no ${url.pathname} here\n`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(new Error(`port ${options.port} on ${HOST} is in use; pick another with --port, or leave it out`));
      } else reject(error);
    });
    server.listen(options.port ?? 0, HOST, () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  guard = new Guard(token, port);
  feed.start();
  return {
    url: `http://${HOST}:${port}/?${TOKEN_PARAM}=${token}`,
    port,
    address,
    token,
    feed,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await feed.close();
      await closed;
    },
  };
}

function serve(response: ServerResponse, asset: Asset, headers: Record<string, string> = {}): void {
  response.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, ...headers });
  response.end(asset.body);
}

function answer(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(text);
}
