// Errors the engine throws. Bad input (a missing file, a tensor of the wrong shape, a prompt longer than the
// model's context) is an EngineInputError: retrying cannot help, so activities fail non-retryably on its name.
import { ENGINE_INPUT_ERROR } from './api';

// One class for the whole engine: the loaders in engine/hf defined it first; everything else imports it from here.
export { EngineInputError } from './hf/errors';

/** True for an EngineInputError, also one that crossed a worker-thread boundary (matched by name). */
export function isEngineInputError(e: unknown): e is Error {
  return e instanceof Error && e.name === ENGINE_INPUT_ERROR;
}

/** The error an aborted call rejects with (name 'AbortError', like DOM fetch). */
export class EngineAbortError extends Error {
  override readonly name = 'AbortError';
  constructor(message = 'The engine call was aborted') {
    super(message);
  }
}

/** Throws EngineAbortError when the signal has fired. Call between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EngineAbortError(abortReason(signal));
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name !== 'AbortError') return `The engine call was aborted: ${r.message}`;
  if (typeof r === 'string') return `The engine call was aborted: ${r}`;
  return 'The engine call was aborted';
}
