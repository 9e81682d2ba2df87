import { describe, expect, it } from 'vitest';
import { inWindows } from './window';

describe('inWindows', () => {
  it('keeps at most `window` calls in flight, refills as calls finish, and keeps input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const started: number[] = [];
    const out = await inWindows([30, 5, 5, 5, 5, 1], 2, async (ms, i) => {
      started.push(i);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      return i * 10;
    });
    expect(out).toEqual([0, 10, 20, 30, 40, 50]);
    expect(peak).toBe(2);
    // the slow first item does not hold back the rest (a sliding window, not batches)
    expect(started.slice(0, 2)).toEqual([0, 1]);
  });

  it('handles empty input and windows larger than the input', async () => {
    expect(await inWindows([], 4, async () => 1)).toEqual([]);
    expect(await inWindows([1, 2], 10, async (x) => x * 2)).toEqual([2, 4]);
  });

  it('propagates the first failure', async () => {
    await expect(inWindows([1, 2, 3], 2, async (x) => (x === 2 ? Promise.reject(new Error('shard 2 failed')) : x))).rejects.toThrow('shard 2 failed');
  });
});
