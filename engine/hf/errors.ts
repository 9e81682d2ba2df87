import { ENGINE_INPUT_ERROR } from '../api';

/**
 * Bad input to the engine (a malformed model folder, an unsupported architecture, a mis-shaped tensor…).
 * `name === 'EngineInputError'` so that activities can fail non-retryably. The message always names the
 * file, field or tensor at fault.
 */
export class EngineInputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ENGINE_INPUT_ERROR;
  }
}
