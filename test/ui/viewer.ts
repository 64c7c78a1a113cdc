// The viewer for tests: started in this process on a free port over the test's table directory,
// like `runtable ui` does, and a raw HTTP client that can send any Host or Origin header.

import http from 'node:http';
import { connect } from 'runtable';
import { startViewer, type Viewer, type ViewerOptions } from '../../src/ui/server.ts';
import { ensurePage } from './page-build.ts';

/** `more` sets what the viewer opens and how it names it, for a table that is not `dir` (one on etcd). */
export async function startTestViewer(
  dir: string,
  more: Partial<Pick<ViewerOptions, 'backend' | 'open'>> = {},
): Promise<Viewer> {
  ensurePage();
  const viewer = await startViewer({
    dir,
    open: () => connect({ dir, autoStart: false }).catch(() => undefined),
    ...more,
  });
  await viewer.feed.connected;
  return viewer;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to 127.0.0.1:`port`, headers exactly as given (Host included). */
export function send(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {} },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** The headers a same-origin request of the page carries. */
export function pageHeaders(viewer: Viewer, more: Record<string, string> = {}): Record<string, string> {
  return { host: `127.0.0.1:${viewer.port}`, cookie: `runtable-ui-${viewer.port}=${viewer.token}`, ...more };
}
