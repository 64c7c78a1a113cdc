// A deliberately dumb peer for bad-input tests: it writes whatever bytes it is told to and reads
// frames with its own reassembly (not the library's), so the library's reader is the one tested.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { decode, encode, type ReferenceContext } from '../src/wire/codec.ts';
import { PROTOCOL_VERSION } from '../src/wire/protocol.ts';
import { tokenPath } from '../src/wire/token.ts';

export type Msg = Record<string, unknown> & { kind: number };

export interface FailureMsg {
  kind: 41;
  id: number;
  error: { code: string; message: string };
}

interface Waiter {
  match: (message: Msg) => boolean;
  resolve: (message: Msg) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class RawPeer {
  readonly socket: net.Socket;
  /** Messages received and not yet taken by next(). */
  readonly inbox: Msg[] = [];
  /** Every frame body received, as it came. */
  readonly frames: Buffer[] = [];
  /** Resolves when the peer closes the connection (or it is destroyed). */
  readonly closed: Promise<void>;
  #isClosed = false;
  #pending: Buffer = Buffer.alloc(0);
  #waiters: Waiter[] = [];
  /** How references (callbacks, ref() objects, streams) in received messages are decoded. */
  readonly #references: ReferenceContext | undefined;

  private constructor(socket: net.Socket, references?: ReferenceContext) {
    this.socket = socket;
    this.#references = references;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#isClosed = true;
        for (const waiter of this.#waiters.splice(0)) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error(`connection closed before the expected message; inbox ${show(this.inbox)}`));
        }
        resolve();
      });
    });
  }

  static open(socketPath: string, references?: ReferenceContext): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: socketPath });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawPeer(socket, references));
      });
    });
  }

  /** Opens a connection and completes the handshake, with the token of the socket's table. */
  static async handshaken(socketPath: string, references?: ReferenceContext): Promise<RawPeer> {
    const peer = await RawPeer.open(socketPath, references);
    peer.send(hello(socketPath));
    const welcome = await peer.next((m) => m.kind === 2);
    if (welcome.version !== PROTOCOL_VERSION) throw new Error(`unexpected Welcome ${show([welcome])}`);
    return peer;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Writes bytes as they are, no framing. */
  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Writes one frame around `payload`. */
  sendFrame(payload: Uint8Array): void {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(payload.length, 0);
    this.socket.write(Buffer.concat([header, payload]));
  }

  send(message: unknown): void {
    this.sendFrame(encode(message));
  }

  /** The first message (received already or later) that `match`es; taken out of the inbox. */
  next(match: (message: Msg) => boolean = () => true, timeoutMs = 5000): Promise<Msg> {
    const index = this.inbox.findIndex(match);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0] as Msg);
    if (this.#isClosed) return Promise.reject(new Error(`connection closed; inbox ${show(this.inbox)}`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(new Error(`no matching message within ${timeoutMs} ms; inbox ${show(this.inbox)}`));
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** The Reply or Failure answering request `id`. */
  answer(id: number, timeoutMs = 5000): Promise<Msg> {
    return this.next((m) => (m.kind === 40 || m.kind === 41) && m.id === id, timeoutMs);
  }

  /** Sends a request and returns its Reply or Failure. */
  request(message: Msg & { id: number }, timeoutMs = 5000): Promise<Msg> {
    this.send(message);
    return this.answer(message.id, timeoutMs);
  }

  /** A Failure with this id. */
  failure(id: number, timeoutMs = 5000): Promise<FailureMsg> {
    return this.next((m) => m.kind === 41 && m.id === id, timeoutMs) as unknown as Promise<FailureMsg>;
  }

  /** Resolves when the connection closes; rejects if it is still open after `timeoutMs`. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  #read(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.length >= 4) {
      const length = this.#pending.readUInt32BE(0);
      if (this.#pending.length < 4 + length) break;
      const frame = Buffer.from(this.#pending.subarray(4, 4 + length));
      this.#pending = this.#pending.subarray(4 + length);
      this.frames.push(frame);
      this.#deliver(decode(frame, this.#references) as Msg);
    }
  }

  #deliver(message: Msg): void {
    const waiter = this.#waiters.find((w) => w.match(message));
    if (!waiter) {
      this.inbox.push(message);
      return;
    }
    this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
    clearTimeout(waiter.timer);
    waiter.resolve(message);
  }
}

function show(messages: Msg[]): string {
  return JSON.stringify(messages, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** The Hello a well-behaved peer sends to the socket at `socketPath`: its table's token included. */
export function hello(socketPath: string): Msg {
  const token = fs.readFileSync(tokenPath(path.dirname(socketPath)), 'utf8');
  return { kind: 1, version: PROTOCOL_VERSION, pid: process.pid, token };
}
