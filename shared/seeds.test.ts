import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed, hash32, iterationPromptIndices, seededPermutation, seedInt } from './seeds';

describe('seeds', () => {
  it('derives readable, deterministic step seeds', () => {
    expect(deriveSeed(42, 'iter-0001', 'generate')).toBe('42/iter-0001/generate');
    expect(seedInt(42, 1, 'x')).toBe(seedInt(42, 1, 'x'));
    expect(seedInt(42, 1, 'x')).not.toBe(seedInt(42, 2, 'x'));
    expect(seedInt(42, 1)).not.toBe(seedInt(43, 1));
    expect(() => deriveSeed(42, 'a/b')).toThrow(/must not contain/);
    expect(hash32('')).toBeGreaterThanOrEqual(0);
  });

  it('rng is reproducible and in range', () => {
    const a = createRng(7);
    const b = createRng(7);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const r = createRng(1);
    const ints = Array.from({ length: 1000 }, () => r.int(2, 5));
    expect(new Set(ints)).toEqual(new Set([2, 3, 4, 5]));
  });

  it('permutations are permutations', () => {
    const p = seededPermutation(50, 3);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(seededPermutation(50, 3)).toEqual(p);
    expect(seededPermutation(50, 4)).not.toEqual(p);
  });

  it('iteration prompt slices are disjoint, seeded and bounded by the pool', () => {
    const it1 = iterationPromptIndices(100, 30, 1, 42);
    const it2 = iterationPromptIndices(100, 30, 2, 42);
    const it3 = iterationPromptIndices(100, 30, 3, 42);
    expect(it1).toHaveLength(30);
    expect(new Set([...it1, ...it2, ...it3]).size).toBe(90);
    expect(iterationPromptIndices(100, 30, 2, 42)).toEqual(it2);
    expect(iterationPromptIndices(100, 30, 1, 7)).not.toEqual(it1);
    expect(() => iterationPromptIndices(100, 30, 4, 42)).toThrow(/pool has 100 prompts; iteration 4 needs prompts 90..119/);
  });
});
