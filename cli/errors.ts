// The CLI's own error: a one-line message for the user (printed as `error: <message>`, exit code 2 for usage).
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Bad command-line usage (unknown flag, missing argument): exit code 2. */
export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, 2);
  }
}

/** The first line of an error's message, without stack or nested causes. */
export function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const first = message.split('\n').find((l) => l.trim() !== '') ?? message;
  return first.trim() || (err instanceof Error ? err.name : 'unknown error');
}
