// Entry of an engine worker thread. Plain JavaScript so that it loads under any parent: `npx tsx`, vitest
// (whose TypeScript transform does not reach worker threads) and a Temporal worker process. It makes sure
// TypeScript loads (tsx ESM hooks),
// then imports the module named in workerData.module, which serves requests (see serve.ts).
import { workerData } from 'node:worker_threads';

const moduleUrl = workerData && workerData.module;
if (typeof moduleUrl !== 'string') throw new Error('engine worker: workerData.module (a file URL) is required');

// A parent's `--import tsx` does not reliably reach worker threads (Node 20), and registering tsx's hooks a
// second time is harmless, so register unconditionally.
const { register } = await import('tsx/esm/api');
register();
await import(moduleUrl);
