// The worker-thread side of an engine worker: serves a module's handlers to host.ts.
import { parentPort } from 'node:worker_threads';
import { deserializeError } from './host';
import { type FromWorker, type ToWorker, isPlainObject, serializeError } from './protocol';

export type Handler = (...args: any[]) => unknown;

/** Serves `handlers` on this worker thread's parent port. Call once at the top of a worker module. */
export function serveRequests(handlers: Record<string, Handler>): void {
  const port = parentPort;
  if (!port) throw new Error('serveRequests must run inside a worker thread');
  const aborts = new Map<number, AbortController>();
  const callbacks = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextCb = 1;
  const post = (m: FromWorker) => port.postMessage(m);

  const decode = (v: unknown, callId: number, controller: AbortController): unknown => {
    if (Array.isArray(v)) return v.map((x) => decode(x, callId, controller));
    if (isPlainObject(v)) {
      if (typeof v.__engineFn === 'number') {
        const fnId = v.__engineFn;
        return (...args: unknown[]) => {
          const p = new Promise((resolve, reject) => {
            const cbId = nextCb++;
            callbacks.set(cbId, { resolve, reject });
            post({ type: 'callback', callId, cbId, fnId, args });
          });
          p.catch(() => {}); // a progress callback may be fired and forgotten; awaiting callers still see errors
          return p;
        };
      }
      if (v.__engineSignal === true) return controller.signal;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = decode(x, callId, controller);
      return out;
    }
    return v;
  };

  port.on('message', (m: ToWorker) => {
    if (m.type === 'abort') {
      aborts.get(m.callId)?.abort();
      return;
    }
    if (m.type === 'callbackResult') {
      const cb = callbacks.get(m.cbId);
      callbacks.delete(m.cbId);
      if (!cb) return;
      if (m.ok) cb.resolve(m.value);
      else cb.reject(deserializeError(m.error));
      return;
    }
    const { callId, method } = m;
    const controller = new AbortController();
    aborts.set(callId, controller);
    void (async () => {
      try {
        const handler = handlers[method];
        if (!handler) throw new Error(`engine worker has no method '${method}'`);
        const args = m.args.map((a) => decode(a, callId, controller));
        const value = await handler(...args);
        post({ type: 'result', callId, ok: true, value });
      } catch (e) {
        post({ type: 'result', callId, ok: false, error: serializeError(e) });
      } finally {
        aborts.delete(callId);
      }
    })();
  });
}

/** Lets queued messages (abort, callback results) in between units of synchronous work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
