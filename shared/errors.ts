// Failure type names shared by workflows and activities. Activities throw
// `ApplicationFailure.nonRetryable(message, type)` with one of these types for failures that a retry cannot
// fix (bad input, missing artifact); workflows list them in `retry.nonRetryableErrorTypes` as a second guard.
// Pure module: importable from workflow code.

export const ErrorType = {
  /** Recipe options or workflow input failed validation (β ≤ 0, K < 2, ...). */
  InvalidOptions: 'InvalidRecipeOptions',
  /** A dataset row has the wrong shape (no "prompt", rewards/responses length mismatch, ...). */
  InvalidData: 'InvalidData',
  /** An input artifact or model folder does not exist or is not committed. */
  MissingArtifact: 'MissingArtifact',
  /** The prompt pool is smaller than the run needs. */
  NotEnoughPrompts: 'NotEnoughPrompts',
  /** The engine rejected its input (engine/api.ts ENGINE_INPUT_ERROR). */
  EngineInput: 'EngineInputError',
  /** A stored object changed after it was committed (size or sha256 mismatch). */
  CorruptArtifact: 'CorruptArtifact',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Every failure type that must not be retried. Pass to `retry.nonRetryableErrorTypes`. */
export const NON_RETRYABLE_ERROR_TYPES: string[] = Object.values(ErrorType);
