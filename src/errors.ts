// The one error class of runtable. Every failure a caller can see carries a stable string code,
// so programs branch on `err.code`, never on message text.

export const ERROR_CODES = [
  'NOT_REGISTERED',
  'ALREADY_REGISTERED',
  'OBJECT_GONE',
  'TIMEOUT',
  'ABORTED',
  'NO_SUCH_METHOD',
  'BAD_MONIKER',
  'BAD_ARGUMENT',
  'PROTOCOL',
  'ACCESS_DENIED',
  'TABLE_UNAVAILABLE',
  'FRAME_TOO_LARGE',
  'REMOTE',
  'ACTIVATION_FAILED',
] as const;

/**
 * The stable code of every {@link RuntableError}: branch on it, never on the message.
 *
 * - `NOT_REGISTERED`: nothing (live) is registered under the moniker.
 * - `ALREADY_REGISTERED`: the moniker has a live owner (see `replace` and `queue`).
 * - `OBJECT_GONE`: the owner process went away, for example during a call.
 * - `TIMEOUT`: no answer within the timeout.
 * - `ABORTED`: the caller's AbortSignal aborted.
 * - `NO_SUCH_METHOD`: the object exposes no method of that name.
 * - `BAD_MONIKER`: not 1 to 512 bytes of UTF-8 without control characters.
 * - `BAD_ARGUMENT`: an argument or option runtable cannot take (a value that cannot travel).
 * - `PROTOCOL`: a peer broke the protocol or speaks another version.
 * - `ACCESS_DENIED`: a table directory or socket refused (another user's, or open to others).
 * - `TABLE_UNAVAILABLE`: the table cannot be reached or used (no broker, a closed table, etcd away).
 * - `FRAME_TOO_LARGE`: a message over `maxMessageBytes`.
 * - `REMOTE`: the remote method threw; `err.remote` keeps what it threw.
 */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** What is known of an error thrown by a remote method, as it left the owner process. */
export interface RemoteErrorInfo {
  name: string;
  message: string;
  /** The remote error's own `code` property, when it had one. */
  code?: unknown;
  /** Only present when the caller asked for stacks or the owner runs in debug mode. */
  stack?: string;
}

/**
 * The one error class of runtable: every call and option that fails rejects with one, carrying
 * a stable {@link ErrorCode} in `code` and a message that says what to do. For `REMOTE`, `remote`
 * holds the name, message and code of what the remote method threw, and `cause` chains it.
 */
export class RuntableError extends Error {
  override name = 'RuntableError';
  readonly code: ErrorCode;
  /** Set when `code` is `REMOTE`: the error as the remote method threw it. */
  declare readonly remote?: RemoteErrorInfo;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; remote?: RemoteErrorInfo }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    // As fetch() names its aborted requests: code that checks `name === 'AbortError'` works too.
    if (code === 'ABORTED') this.name = 'AbortError';
    // Own only when set: a local error shows no `remote: undefined` when inspected.
    if (options?.remote) Object.defineProperty(this, 'remote', { value: options.remote, enumerable: true });
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/**
 * What an operation whose AbortSignal fired rejects with, as the platform has it: a TimeoutError
 * reason (what AbortSignal.timeout() gives) is TIMEOUT, any other abort is ABORTED; the signal's
 * reason is the `cause` of either.
 */
export function signalError(signal: AbortSignal, what: string): RuntableError {
  const reason: unknown = signal.reason;
  if ((reason as { name?: unknown } | null)?.name === 'TimeoutError') {
    return new RuntableError('TIMEOUT', `${what} timed out: its signal was aborted with a TimeoutError`, {
      cause: reason,
    });
  }
  return new RuntableError('ABORTED', `${what} was aborted by its signal`, { cause: reason });
}
