// Streams: a method that returns an async iterable hands its caller an async iterable. Items flow
// only as far as the consumer's credit allows, so a slow consumer never makes the producer
// buffer without bound; a consumer that stops early stops the producer's iterator.

import { RuntableError } from '../errors.js';
import { hold, release } from '../transport/keep-alive.js';
import { Kind, type Message } from '../wire/protocol.js';

/** Items a consumer lets the producer send ahead of what it has read. */
export const STREAM_WINDOW = 256;
/** Items sent in one StreamItems message at most. */
export const STREAM_BATCH = 64;
/** Credit a producer accepts in total; more is a broken or hostile consumer. */
export const MAX_STREAM_CREDIT = 1 << 20;

export interface StreamWire {
  /** Sends; may return the message's encoded size (for a StreamTally). */
  send(message: Message): number | undefined;
  /** The stream is finished on this side; forget it. */
  forget(stream: number): void;
  /**
   * A consumer waiting for items is referred to only by its own suspended loop: without a strong
   * reference elsewhere, the garbage collector could take loop and stream together.
   */
  pin?(consumer: StreamConsumer, waiting: boolean): void;
}

/** Told what a producer sent and how its stream ended: a monitored call's items, bytes and outcome. */
export interface StreamTally {
  sent(items: number, bytes: number): void;
  /** Once: 'ok' (done, or the consumer stopped), or the code of what ended it. */
  ended(outcome: string): void;
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/** The owner's side: pulls from the iterator while the consumer has credit. */
export class StreamProducer {
  readonly #wire: StreamWire;
  readonly #id: number;
  readonly #iterator: AsyncIterator<unknown>;
  #credit = 0;
  #pumping = false;
  #finished = false;
  #batch: unknown[] = [];
  #flushScheduled = false;
  readonly #tally: StreamTally | undefined;

  constructor(wire: StreamWire, id: number, iterable: AsyncIterable<unknown>, tally?: StreamTally) {
    this.#wire = wire;
    this.#id = id;
    this.#iterator = iterable[Symbol.asyncIterator]();
    this.#tally = tally;
  }

  grant(credit: number): void {
    if (this.#finished) return;
    if (credit <= 0 || this.#credit + credit > MAX_STREAM_CREDIT) {
      this.fail(new RuntableError('PROTOCOL', `stream credit ${credit} is out of range (1 to ${MAX_STREAM_CREDIT})`));
      return;
    }
    this.#credit += credit;
    void this.#pump();
  }

  /** The consumer stopped (outcome 'ok'), or the connection went: the iterator's `finally` runs. */
  cancel(outcome = 'ok'): void {
    if (this.#finished) return;
    this.#finish(outcome);
    try {
      void Promise.resolve(this.#iterator.return?.()).catch(() => {});
    } catch {
      // An iterator whose return() throws has stopped all the same.
    }
  }

  fail(error: RuntableError): void {
    if (this.#finished) return;
    const bytes = this.#wire.send({
      kind: Kind.StreamEnd,
      stream: this.#id,
      error: { code: error.code, message: error.message },
    });
    this.#tally?.sent(0, bytes ?? 0);
    this.cancel(error.code);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      await this.#pull();
    } catch (error) {
      // An iterator result whose getters throw: the stream fails, the owner carries on.
      this.#end(error);
    } finally {
      this.#pumping = false;
    }
  }

  async #pull(): Promise<void> {
    while (this.#credit > 0 && !this.#finished) {
      let step: IteratorResult<unknown>;
      try {
        step = await this.#iterator.next();
      } catch (error) {
        this.#flush();
        this.#end(error);
        return;
      }
      if (this.#finished) return;
      if (step.done) {
        this.#flush();
        this.#end(undefined);
        return;
      }
      this.#credit--;
      this.#batch.push(step.value);
      if (this.#batch.length >= STREAM_BATCH || this.#credit === 0) this.#flush();
      else if (!this.#flushScheduled) {
        // An iterator that waits for real work yields to the event loop: what we have goes then.
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#flush();
        });
      }
    }
  }

  #flush(): void {
    if (this.#batch.length === 0 || this.#finished) return;
    const values = this.#batch;
    this.#batch = [];
    try {
      const bytes = this.#wire.send({ kind: Kind.StreamItems, stream: this.#id, values });
      this.#tally?.sent(values.length, bytes ?? 0);
    } catch (error) {
      this.fail(new RuntableError('BAD_ARGUMENT', `a stream item cannot be sent: ${(error as Error).message}`));
    }
  }

  #end(error: unknown): void {
    if (this.#finished) return;
    try {
      const bytes = this.#wire.send(
        error === undefined ? { kind: Kind.StreamEnd, stream: this.#id } : streamFailure(this.#id, error),
      );
      this.#tally?.sent(0, bytes ?? 0);
    } catch (unsendable) {
      // The thrown value, or its code, cannot travel: the consumer still learns that the stream failed.
      this.#wire.send({
        kind: Kind.StreamEnd,
        stream: this.#id,
        error: {
          code: 'REMOTE',
          name: 'Error',
          message: `the stream failed; its error cannot be sent: ${(unsendable as Error).message}`,
        },
      });
    }
    this.#finish(error === undefined ? 'ok' : 'REMOTE');
  }

  #finish(outcome: string): void {
    this.#finished = true;
    this.#batch = [];
    this.#wire.forget(this.#id);
    this.#tally?.ended(outcome);
  }
}

/** The StreamEnd of a stream whose iterator threw `error`. */
function streamFailure(stream: number, error: unknown): Message {
  const code = (error as { code?: unknown } | null)?.code;
  const message = (error as Error | null)?.message;
  const name = (error as Error | null)?.name;
  return {
    kind: Kind.StreamEnd,
    stream,
    error: {
      code: 'REMOTE',
      message: typeof message === 'string' ? message : String(error),
      name: typeof name === 'string' ? name : 'Error',
      ...(code === undefined ? {} : { remoteCode: code }),
    },
  };
}

/** The caller's side: an async iterator that grants credit as its loop reads. */
export class StreamConsumer implements AsyncIterableIterator<unknown> {
  readonly #wire: StreamWire;
  readonly #id: number;
  readonly #toError: (record: { code: string; message: string }) => RuntableError;
  readonly #queue: unknown[] = [];
  #head = 0;
  /** Items the producer may still send before it needs more credit. */
  #outstanding = 0;
  #readSinceGrant = 0;
  #ended = false;
  #error: RuntableError | undefined;
  #wake: (() => void) | undefined;

  constructor(wire: StreamWire, id: number, toError: (record: { code: string; message: string }) => RuntableError) {
    this.#wire = wire;
    this.#id = id;
    this.#toError = toError;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Opens the window; called once the reply that carried the stream has been decoded. */
  start(): void {
    if (this.#ended) return;
    this.#outstanding = STREAM_WINDOW;
    this.#wire.send({ kind: Kind.StreamCredit, stream: this.#id, credit: STREAM_WINDOW });
  }

  push(values: unknown[]): void {
    if (this.#ended) return;
    if (values.length > this.#outstanding) {
      this.end(
        new RuntableError('PROTOCOL', `the producer of stream ${this.#id} sent more items than it had credit for`),
      );
      this.#wire.send({ kind: Kind.StreamCancel, stream: this.#id });
      return;
    }
    this.#outstanding -= values.length;
    for (const value of values) this.#queue.push(value);
    this.#wakeUp();
  }

  end(error?: RuntableError | { code: string; message: string }): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error) this.#error = error instanceof RuntableError ? error : this.#toError(error);
    this.#wire.forget(this.#id);
    this.#wakeUp();
  }

  async next(): Promise<IteratorResult<unknown>> {
    for (;;) {
      if (this.#head < this.#queue.length) {
        const value = this.#queue[this.#head];
        this.#queue[this.#head++] = undefined;
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#head);
          this.#head = 0;
        }
        this.#read();
        return { value, done: false };
      }
      if (this.#error) {
        const error = this.#error;
        this.#error = undefined;
        throw error;
      }
      if (this.#ended) return { value: undefined, done: true };
      this.#wire.pin?.(this, true);
      // A loop waiting for items holds the process (keep-alive.ts); one left with `break` does not.
      hold();
      try {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      } finally {
        release();
        this.#wire.pin?.(this, false);
      }
    }
  }

  async return(): Promise<IteratorResult<unknown>> {
    if (!this.#ended) {
      this.#wire.send({ kind: Kind.StreamCancel, stream: this.#id });
      this.end();
    }
    this.#queue.length = 0;
    this.#head = 0;
    return { value: undefined, done: true };
  }

  #read(): void {
    if (this.#ended) return;
    this.#readSinceGrant++;
    if (this.#readSinceGrant >= STREAM_WINDOW / 2) {
      const credit = this.#readSinceGrant;
      this.#readSinceGrant = 0;
      this.#outstanding += credit;
      this.#wire.send({ kind: Kind.StreamCredit, stream: this.#id, credit });
    }
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
