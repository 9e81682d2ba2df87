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

/**
 * A Temporal failure as one line, outermost first, down to the root cause:
 * "Child Workflow execution failed: Activity task failed: TypeError: x is not a function".
 * WorkflowFailedError's own "Workflow execution failed" is dropped (the caller names the workflow).
 */
export function failureChain(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 8; depth++) {
    const x = e as { name?: string; message?: string; type?: string | null; cause?: unknown };
    const message = oneLine(e);
    if (!(depth === 0 && x.name === 'WorkflowFailedError')) {
      const type = typeof x.type === 'string' && x.type !== '' && !message.startsWith(x.type) ? `${x.type}: ` : '';
      if (message && message !== x.name) parts.push(`${type}${message}`);
    }
    e = x.cause;
  }
  return parts.join(': ') || oneLine(err);
}
