// A mistake of whoever typed the command: the CLI exits 2 on it and points at --help. It lives
// here, below cli/, because parsing a call's arguments (values.ts, which the viewer shares)
// throws it too.

/** A mistake on the command line: exit 2, with a pointer to the right help. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** The command whose --help to point at, if any. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}
