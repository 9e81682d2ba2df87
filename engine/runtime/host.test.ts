import { describe, expect, it } from 'vitest';
import { EngineWorker } from './host';
import { EngineInputError } from '../errors';

const ECHO = new URL('./fixtures/echo.worker.ts', import.meta.url);

describe('EngineWorker', () => {
  it('runs a TypeScript module in a worker thread and round-trips values', async () => {
    const w = EngineWorker.start(ECHO);
    try {
      expect(await w.call('echo', [{ a: [1, 2], b: 'x' }])).toEqual({ a: [1, 2], b: 'x' });
      expect(await w.call('callBack', [async (x: number) => x * 2])).toBe(41);
    } finally {
      await w.terminate();
    }
  });

  it('rebuilds EngineInputError by name and names unknown methods', async () => {
    const w = EngineWorker.start(ECHO);
    try {
      const e = await w.call('badInput', ['prompt 3']).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(EngineInputError);
      expect((e as Error).message).toContain('prompt 3');
      await expect(w.call('nope', [])).rejects.toThrow(/no method 'nope'/);
    } finally {
      await w.terminate();
    }
  });

  it('keeps the main event loop responsive, reports progress and aborts within a bounded time', async () => {
    const w = EngineWorker.start(ECHO);
    try {
      let last = performance.now();
      let maxGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 10);
      const progress: number[] = [];
      // 40 steps of 50 ms of synchronous work in the worker: 2 s that would block a main-thread caller.
      const steps = await w.call<number>('work', [{ steps: 40, ms: 50, onProgress: (p: { done: number }) => progress.push(p.done) }]);
      clearInterval(timer);
      expect(steps).toBe(40);
      expect(maxGap).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 20));
      expect(progress.at(-1)).toBe(40);

      const ac = new AbortController();
      const t0 = performance.now();
      const run = w.call('work', [{ steps: 1000, ms: 50, signal: ac.signal }]);
      setTimeout(() => ac.abort(), 100);
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      expect(performance.now() - t0).toBeLessThan(2000); // generous: abort fires at 100 ms; the run would take 50 s
      // The worker stops at its next step boundary and serves the next call.
      expect(await w.call('echo', [7])).toBe(7);
    } finally {
      await w.terminate();
    }
  });
});
