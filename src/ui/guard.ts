// Who may talk to the viewer: a request must carry the token (in the URL on the first load, as a
// cookie after), name this server in its Host header (so DNS rebinding fails), and come from this
// page's own origin if it comes from a page at all (so other sites cannot call objects).

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TOKEN_PARAM } from './shared/viewer.js';

/** Random bytes in a token: 192 bits, far past guessing through a loopback socket. */
const TOKEN_BYTES = 24;

export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** One cookie per port: cookies ignore ports, and two viewers must not overwrite each other's. */
export function cookieName(port: number): string {
  return `runtable-ui-${port}`;
}

export type Verdict = { ok: true; fromUrl: boolean } | { ok: false; reason: string };

export class Guard {
  readonly #token: Buffer;
  readonly #hosts: Set<string>;
  readonly #origins: Set<string>;
  readonly #cookie: string;

  constructor(token: string, port: number) {
    this.#token = Buffer.from(token);
    this.#hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    this.#origins = new Set([...this.#hosts].map((host) => `http://${host}`));
    this.#cookie = cookieName(port);
  }

  check(request: IncomingMessage, url: URL): Verdict {
    const host = request.headers.host;
    if (host === undefined || !this.#hosts.has(host.toLowerCase())) {
      return { ok: false, reason: `Host ${JSON.stringify(host ?? '')} is not this viewer` };
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !this.#origins.has(origin.toLowerCase())) {
      return { ok: false, reason: `Origin ${JSON.stringify(origin)} is not this viewer` };
    }
    // Browsers that send it say outright when another site made the request.
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { ok: false, reason: `a ${site} request` };
    }
    const fromUrl = url.searchParams.get(TOKEN_PARAM);
    if (fromUrl !== null) {
      return this.#matches(fromUrl) ? { ok: true, fromUrl: true } : { ok: false, reason: 'wrong token' };
    }
    const fromCookie = readCookie(request.headers.cookie, this.#cookie);
    if (fromCookie === undefined) return { ok: false, reason: 'no token' };
    return this.#matches(fromCookie) ? { ok: true, fromUrl: false } : { ok: false, reason: 'wrong token' };
  }

  /** The cookie that lets the page's later requests (and a reload) through without the token in the URL. */
  cookie(): string {
    return `${this.#cookie}=${this.#token.toString()}; HttpOnly; SameSite=Strict; Path=/`;
  }

  #matches(candidate: string): boolean {
    const given = Buffer.from(candidate);
    return given.length === this.#token.length && timingSafeEqual(given, this.#token);
  }
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}
