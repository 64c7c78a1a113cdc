// What a proxy needs of the connection its calls go over: the few operations of a CallSession
// (session.ts) that proxies and subscriptions use. The proxy depends on this and not on the
// session, so the session may build proxies for the references it receives without a cycle.

import type { RuntableError } from '../errors.js';
import type { CallRequest, RequestOptions } from '../wire/connection.js';
import type { Message } from '../wire/protocol.js';

export interface CallChannel {
  /** True once the connection has closed; nothing sent after that arrives. */
  readonly closed: boolean;
  /** The peer's pid, from its handshake. */
  readonly peerPid: number;
  /** Settles, with the reason, when the connection closes. */
  readonly whenClosed: Promise<RuntableError>;
  /** Calls a registered object's method; the request's recover() turns a failure into its outcome. */
  call(request: CallRequest, options: RequestOptions): Promise<unknown>;
  /** Calls a method of a reference the peer handed out. */
  invoke(ref: number, method: string, args: unknown[], options: RequestOptions): Promise<unknown>;
  /** Sends without waiting for (or getting) an answer; throws if the message cannot be sent. */
  notify(message: Message): void;
  /** Adds a listener for `event` of `target`; returns the function that removes it. */
  listen(target: number, event: string, listener: (...args: unknown[]) => void): Promise<() => void>;
}
