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

export class RuntableError extends Error {
  override name = 'RuntableError';
  readonly code: ErrorCode;
  /** Set when `code` is `REMOTE`: the error as the remote method threw it. */
  readonly remote?: RemoteErrorInfo;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; remote?: RemoteErrorInfo }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.remote) this.remote = options.remote;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
