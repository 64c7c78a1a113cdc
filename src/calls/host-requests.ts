// The requests a call connection's peer makes of the host itself rather than of an object's
// method: Subscribe and Unsubscribe (an object's events), Statistics, Monitor and Unmonitor.
// What answers them is the host (the endpoint, endpoint.ts); a session without one refuses them.

import { Buffer } from 'node:buffer';
import { RuntableError } from '../errors.js';
import type { Connection } from '../wire/connection.js';
import {
  Kind,
  type Monitor,
  type Statistics,
  type StatisticsReport,
  type Subscribe,
  type Unmonitor,
  type Unsubscribe,
} from '../wire/protocol.js';
import type { Served } from './served-calls.js';
import type { CallSession } from './session.js';

/** Event names are short labels. */
export const MAX_EVENT_NAME_BYTES = 256;

/**
 * What an endpoint adds to a session: registered objects to call and subscribe to. It only finds
 * them; the session's served calls run what it finds and write every answer and refusal.
 */
export interface SessionHost {
  /** Method `method` of registered object `target`, or the error to refuse the call with. */
  find(target: number, method: string): Served | RuntableError;
  subscribe(session: CallSession, target: number, event: string): void;
  unsubscribe(session: CallSession, target: number, event: string): void;
  closed(session: CallSession): void;
  /** The call statistics a Statistics request asks for. */
  statistics(request: Statistics): StatisticsReport[];
  /** The moniker of registered object `target`, if it still is: for a refused call's diagnostics. */
  monikerOf?(target: number): string | undefined;
  /** Monitor and Unmonitor from the peer: the owner's monitors (monitor-owner.ts). */
  monitor?(session: CallSession, message: Monitor | Unmonitor): void;
}

/** What a peer asks of the host. */
export type HostRequest = Subscribe | Unsubscribe | Statistics | Monitor | Unmonitor;

/** Answers `message` on `connection` from `host`, or refuses it when the session has none. */
export function answerHostRequest(
  message: HostRequest,
  host: SessionHost | undefined,
  session: CallSession,
  connection: Connection,
): void {
  switch (message.kind) {
    case Kind.Subscribe:
      try {
        if (!host) throw new RuntableError('PROTOCOL', 'nothing to subscribe to on this connection');
        if (Buffer.byteLength(message.event) > MAX_EVENT_NAME_BYTES) {
          throw new RuntableError('BAD_ARGUMENT', `event names are at most ${MAX_EVENT_NAME_BYTES} bytes`);
        }
        host.subscribe(session, message.target, message.event);
        connection.reply(message.id, true);
      } catch (error) {
        connection.replyError(message.id, error as RuntableError);
      }
      return;
    case Kind.Unsubscribe:
      host?.unsubscribe(session, message.target, message.event);
      return;
    case Kind.Statistics:
      try {
        if (!host) throw new RuntableError('PROTOCOL', 'this process serves no registered objects here');
        // A report too large to send (FRAME_TOO_LARGE) fails this request alone.
        connection.reply(message.id, host.statistics(message));
      } catch (error) {
        connection.replyError(message.id, error as RuntableError);
      }
      return;
    case Kind.Monitor:
    case Kind.Unmonitor:
      if (host?.monitor) host.monitor(session, message);
      else if (message.kind === Kind.Monitor) {
        connection.replyError(message.id, new RuntableError('PROTOCOL', 'nothing to monitor on this connection'));
      }
      return;
  }
}
