// Messages between the main thread (host.ts) and an engine worker thread (serve.ts).
// Function arguments (progress and checkpoint callbacks) and AbortSignals cannot be cloned: they travel as
// markers and are called back / forwarded across the boundary.

export type Marker = { __engineFn: number } | { __engineSignal: true };

export type ToWorker =
  | { type: 'call'; callId: number; method: string; args: unknown[] }
  | { type: 'abort'; callId: number }
  | { type: 'callbackResult'; cbId: number; ok: true; value: unknown }
  | { type: 'callbackResult'; cbId: number; ok: false; error: SerializedError };

export type FromWorker =
  | { type: 'result'; callId: number; ok: true; value: unknown }
  | { type: 'result'; callId: number; ok: false; error: SerializedError }
  | { type: 'callback'; callId: number; cbId: number; fnId: number; args: unknown[] };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
