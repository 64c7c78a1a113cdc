// HTTP/1.1 keep-alive on a Unix socket: node:http on both sides, an Agent with keepAlive. HTTP/1.1
// carries one request at a time per connection, so 64 calls in flight use up to 64 pooled
// connections, and a 100 MB transfer cannot share a connection with small calls (no sink).
// Run as a process it is the peer.

import http from 'node:http';
import path from 'node:path';
import type { Client, Transport } from '../measure.ts';
import { IN_FLIGHT } from '../measure.ts';
import { exitWithParent, isPeerMain, spawnPeer } from '../procs.ts';

function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function serve(socketPath: string): void {
  const server = http.createServer(async (request, response) => {
    const body = await readBody(request);
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    response.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(socketPath, () => console.log('ready'));
}

export const httpKeepAlive: Transport = {
  name: 'http keep-alive',
  noSink: 'HTTP/1.1 runs one request at a time per connection',
  async open(dir) {
    const socketPath = path.join(dir, 'http.sock');
    const peer = await spawnPeer('http', [socketPath], { bundled: true });
    const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
    const echo = (body: Uint8Array) =>
      new Promise<Uint8Array>((resolve, reject) => {
        const request = http.request(
          {
            agent,
            socketPath,
            method: 'POST',
            path: '/echo',
            headers: { 'content-type': 'application/octet-stream', 'content-length': body.byteLength },
          },
          (response) => readBody(response).then(resolve, reject),
        );
        request.on('error', reject);
        request.end(body);
      });
    const client: Client = {
      pids: [peer.pid],
      echo,
      async close() {
        agent.destroy();
        peer.stop();
      },
    };
    return client;
  },
};

if (isPeerMain(import.meta.url, 'http')) {
  exitWithParent();
  serve(process.argv[2] as string);
}
