// The main-thread side of an engine worker thread. onnxruntime-node runs sessions (and creates them)
// synchronously on the calling thread, so every model lives in its own worker thread and the main thread's
// event loop (Temporal heartbeats and polling) only ever handles small messages.
import { Worker } from 'node:worker_threads';
import { EngineAbortError, EngineInputError } from '../errors';
import { ENGINE_INPUT_ERROR } from '../api';
import { type FromWorker, type SerializedError, type ToWorker, isPlainObject, serializeError } from './protocol';

const ENTRY = new URL('./worker-entry.mjs', import.meta.url);

export interface CallControl {
  signal?: AbortSignal;
  /**
   * On abort, keep the call open until the worker answers (its callbacks keep working), instead of rejecting
   * at once: for calls that do work on abort, e.g. training saving a checkpoint.
   */
  settleOnAbort?: boolean;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  fns: Map<number, (...a: unknown[]) => unknown>;
  cleanup: () => void;
}

/** An AbortSignal, also one from another realm or a polyfill (duck-typed). */
function isAbortSignal(v: unknown): v is AbortSignal {
  if (v instanceof AbortSignal) return true;
  if (v === null || typeof v !== 'object') return false;
  const s = v as Partial<AbortSignal>;
  return typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function' && typeof s.removeEventListener === 'function';
}

/** Rebuilds an error that crossed the thread boundary, keeping the engine's classes (matched by name). */
export function deserializeError(s: SerializedError): Error {
  let e: Error;
  if (s.name === ENGINE_INPUT_ERROR) e = new EngineInputError(s.message);
  else if (s.name === 'AbortError') e = new EngineAbortError(s.message);
  else {
    e = new Error(s.message);
    e.name = s.name;
  }
  if (s.stack) e.stack = s.stack;
  return e;
}

/**
 * A worker thread that serves the handlers of one module (which calls `serveRequests` from serve.ts).
 * Calls are async RPC; callbacks in the arguments run on the main thread; an AbortSignal argument is mirrored.
 */
export class EngineWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextCall = 1;
  private nextFn = 1;
  private dead: Error | undefined;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.unref(); // an idle worker never keeps the process alive; ref'd while calls are pending
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`engine worker thread exited (code ${code})`)));
  }

  /** Starts a worker thread running the given module (a file URL of a .ts/.js module). */
  static start(moduleUrl: URL | string, opts: { name?: string } = {}): EngineWorker {
    const worker = new Worker(ENTRY, {
      workerData: { module: String(moduleUrl) },
      name: opts.name ?? 'engine-worker',
      stdout: false,
      stderr: false,
    });
    return new EngineWorker(worker);
  }

  call<T>(method: string, args: unknown[], control: CallControl = {}): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const fns = new Map<number, (...a: unknown[]) => unknown>();
    const found: { signal?: AbortSignal } = {};
    const encoded = args.map((a) => this.encode(a, fns, found));
    // The call's signal: the explicit one, else an AbortSignal found in the arguments (e.g. opts.signal).
    const signal = control.signal ?? found.signal;
    if (signal?.aborted) return Promise.reject(new EngineAbortError());
    const callId = this.nextCall++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.post({ type: 'abort', callId });
        if (control.settleOnAbort) return; // the worker's answer (normally an AbortError) settles the call
        // Reject at once; the worker stops at its next step boundary and its late answer is dropped.
        const p = this.pending.get(callId);
        if (p) {
          this.pending.delete(callId);
          p.cleanup();
          reject(new EngineAbortError());
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        signal?.removeEventListener('abort', onAbort);
        if (this.pending.size === 0) this.worker.unref();
      };
      this.pending.set(callId, { resolve: resolve as (v: unknown) => void, reject, fns, cleanup });
      this.worker.ref();
      this.post({ type: 'call', callId, method, args: encoded });
    });
  }

  async terminate(): Promise<void> {
    this.fail(new Error('engine worker was released'));
    await this.worker.terminate();
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private encode(v: unknown, fns: Map<number, (...a: unknown[]) => unknown>, found: { signal?: AbortSignal }): unknown {
    if (typeof v === 'function') {
      const id = this.nextFn++;
      fns.set(id, v as (...a: unknown[]) => unknown);
      return { __engineFn: id };
    }
    if (isAbortSignal(v)) {
      found.signal ??= v;
      return { __engineSignal: true };
    }
    if (Array.isArray(v)) return v.map((x) => this.encode(x, fns, found));
    if (isPlainObject(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = this.encode(x, fns, found);
      return out;
    }
    return v;
  }

  private onMessage(m: FromWorker): void {
    const p = this.pending.get(m.callId);
    if (m.type === 'result') {
      if (!p) return;
      this.pending.delete(m.callId);
      p.cleanup();
      if (m.ok) p.resolve(m.value);
      else p.reject(deserializeError(m.error));
      return;
    }
    // A callback from the worker: run it here, send back its (awaited) result.
    const fn = p?.fns.get(m.fnId);
    void (async () => {
      try {
        if (!fn) throw new Error('engine worker called back a function of a finished call');
        const value = await fn(...m.args);
        this.post({ type: 'callbackResult', cbId: m.cbId, ok: true, value: value === undefined ? null : value });
      } catch (e) {
        this.post({ type: 'callbackResult', cbId: m.cbId, ok: false, error: serializeError(e) });
      }
    })();
  }

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    for (const [, p] of this.pending) {
      p.cleanup();
      p.reject(e);
    }
    this.pending.clear();
  }
}
