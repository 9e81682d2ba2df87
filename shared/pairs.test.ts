import { describe, expect, it } from 'vitest';
import { buildPairs, checkScoredRow, PairDataError, pickIndices, selectPair, type PairOptions, type ScoredRow } from './pairs';

const opts = (o: Partial<PairOptions> = {}): PairOptions => ({ selector: 'max_min', tieRule: 'drop', marginThreshold: 0, lengthPenalty: 0, ...o });
const row = (rewards: number[], responses = rewards.map((_, i) => `r${i}`)): ScoredRow => ({ prompt: 'p', responses, rewards });
const fixed = (...xs: number[]) => {
  let i = 0;
  return () => xs[i++ % xs.length] as number;
};

describe('pair selectors', () => {
  it('max_min picks best and worst, margin = difference, rewards recorded', () => {
    const p = selectPair(row([0.2, 0.9, -0.5, 0.1]), opts(), fixed(0));
    expect(p).toEqual({ prompt: 'p', chosen: 'r1', rejected: 'r2', chosen_reward: 0.9, rejected_reward: -0.5, margin: 1.4 });
  });

  it('max_max picks best and second best', () => {
    const p = selectPair(row([0.2, 0.9, -0.5, 0.7]), opts({ selector: 'max_max' }), fixed(0));
    expect(p).toMatchObject({ chosen: 'r1', rejected: 'r3' });
  });

  it('max_random pairs the best with a seeded other response, never itself', () => {
    const s = [0.2, 0.9, -0.5, 0.7];
    for (const u of [0, 0.3, 0.5, 0.99]) {
      const [a, b] = pickIndices('max_random', s, fixed(u));
      expect(a).toBe(1);
      expect(b).not.toBe(1);
      expect([0, 2, 3]).toContain(b);
    }
  });

  it('random picks two distinct responses and orders them by score', () => {
    for (const u of [0, 0.2, 0.6, 0.99]) {
      const [a, b] = pickIndices('random', [1, 2, 3, 4], fixed(u, 0.5));
      expect(a).not.toBe(b);
    }
    const p = selectPair(row([5, 1, 3]), opts({ selector: 'random' }), fixed(0.4, 0.9));
    // a = floor(0.4*3) = 1 (reward 1); b = other(1) with j = floor(0.9*2) = 1 → 2 (reward 3): chosen is index 2
    expect(p).toMatchObject({ chosen: 'r2', rejected: 'r1', margin: 2 });
  });

  it('max_min_p applies the length penalty r − λ|y|', () => {
    const r = row([1.0, 0.95, 0.0], ['a very long answer indeed', 'short', 'x']);
    expect(selectPair(r, opts({ selector: 'max_min' }), fixed(0))).toMatchObject({ chosen: 'a very long answer indeed' });
    const p = selectPair(r, opts({ selector: 'max_min_p', lengthPenalty: 0.01 }), fixed(0));
    expect(p).toMatchObject({ chosen: 'short', chosen_reward: 0.95 });
  });

  it('drops ties under tieRule drop, keeps them under keep; identical responses always dropped', () => {
    expect(selectPair(row([0.5, 0.5]), opts(), fixed(0))).toBe('tie');
    expect(selectPair(row([0.5, 0.5]), opts({ tieRule: 'keep' }), fixed(0))).toMatchObject({ margin: 0 });
    expect(selectPair(row([0.9, 0.1], ['same', 'same']), opts({ tieRule: 'keep' }), fixed(0))).toBe('identical');
  });

  it('drops pairs below the margin threshold', () => {
    expect(selectPair(row([0.5, 0.4]), opts({ marginThreshold: 0.2 }), fixed(0))).toBe('margin');
    expect(selectPair(row([0.5, 0.2]), opts({ marginThreshold: 0.2 }), fixed(0))).not.toBe('margin');
  });

  it('buildPairs counts drops and is independent of row order (seeded per global index)', () => {
    const rows = [row([1, 0, 0.5]), row([0.3, 0.3]), row([2, 1, 0, 3]), row([0.1, 0.9], ['x', 'x'])].map((r, index) => ({ index, row: r }));
    const a = buildPairs(rows, opts({ selector: 'random' }), 42);
    const b = buildPairs([...rows].reverse(), opts({ selector: 'random' }), 42);
    expect(a.stats.prompts).toBe(4);
    expect(a.stats.dropped.tie + a.stats.dropped.identical).toBeGreaterThanOrEqual(2);
    expect(new Set(b.pairs.map((p) => JSON.stringify(p)))).toEqual(new Set(a.pairs.map((p) => JSON.stringify(p))));
    const m = buildPairs(rows, opts(), 42);
    expect(m.stats).toMatchObject({ prompts: 4, pairs: 2, dropped: { tie: 1, identical: 1, margin: 0 } });
    expect(m.stats.meanMargin).toBeCloseTo((1 + 3) / 2);
  });

  it('rejects malformed rows loudly (K mismatch is never skipped silently)', () => {
    expect(() => checkScoredRow({ prompt: 'p', responses: ['a', 'b'], rewards: [1] }, 'shard 0 row 3')).toThrow(/shard 0 row 3: 2 responses but 1 rewards/);
    expect(() => checkScoredRow({ prompt: 'p', responses: ['a', 'b'], rewards: [1, 2] }, 'row', 4)).toThrow(PairDataError);
    expect(() => checkScoredRow({ prompt: 'p', responses: ['a'], rewards: [1] }, 'row')).toThrow(/at least 2/);
    expect(() => checkScoredRow({ prompt: 'p', responses: ['a', 'b'], rewards: [1, NaN] }, 'row')).toThrow(/finite/);
    expect(() => checkScoredRow({ prompt: [{ role: 'user', content: 'hi' }], responses: ['a', 'b'], rewards: [1, 2] }, 'row', 2)).not.toThrow();
  });
});
