import { describe, expect, it } from 'vitest';
import { argmax, chooseToken, keptDistribution } from './sampling';
import { rngFor } from '../rng';

const logits = Float32Array.from([1.0, 3.0, 2.0, 0.5, 3.0, -1.0]);
const V = logits.length;

function probs(T: number): number[] {
  const z = Array.from(logits, (x) => Math.exp(x / T));
  const s = z.reduce((a, b) => a + b, 0);
  return z.map((x) => x / s);
}

describe('sampling', () => {
  it('greedy is argmax with the lowest id on ties', () => {
    expect(argmax(logits, 0, V)).toBe(1);
    expect(chooseToken(logits, 0, V, { temperature: 0, topK: 0, topP: 1 }, 0.99)).toBe(1);
  });

  it('top-k keeps the k most likely tokens (ties by id)', () => {
    const k = keptDistribution(logits, 0, V, { temperature: 1, topK: 3, topP: 1 });
    expect(Array.from(k.ids)).toEqual([1, 4, 2]);
  });

  it('top-p keeps the smallest prefix whose mass reaches p (HF TopPLogitsWarper)', () => {
    const p = probs(1);
    // sorted: ids 1,4 (p≈0.33 each), 2 (≈0.12), 0, 3, 5
    const two = p[1]! + p[4]!;
    expect(Array.from(keptDistribution(logits, 0, V, { temperature: 1, topK: 0, topP: two - 1e-6 }).ids)).toEqual([1, 4]);
    expect(Array.from(keptDistribution(logits, 0, V, { temperature: 1, topK: 0, topP: two + 1e-6 }).ids)).toEqual([1, 4, 2]);
    expect(Array.from(keptDistribution(logits, 0, V, { temperature: 1, topK: 0, topP: 0.01 }).ids)).toEqual([1]);
    // top-k then top-p on the renormalised top-k mass
    expect(Array.from(keptDistribution(logits, 0, V, { temperature: 1, topK: 2, topP: 0.6 }).ids)).toEqual([1, 4]);
  });

  it('top-p on a huge flat-tailed vocabulary matches a full sort', () => {
    const big = new Float32Array(5000);
    const r = rngFor('tail', 0);
    for (let i = 0; i < big.length; i++) big[i] = r.normal() * 0.01 - 20;
    big[17] = 0;
    big[4242] = -0.5;
    const kept = keptDistribution(big, 0, big.length, { temperature: 1, topK: 0, topP: 0.999 });
    // Reference: sort everything.
    const w = Array.from(big, (x) => Math.exp(x));
    const total = w.reduce((a, b) => a + b, 0);
    const order = w.map((_, i) => i).sort((a, b) => w[b]! - w[a]! || a - b);
    let before = 0;
    const ref: number[] = [];
    for (const i of order) {
      if (ref.length > 0 && before >= 0.999 * total) break;
      ref.push(i);
      before += w[i]!;
    }
    expect(Array.from(kept.ids)).toEqual(ref);
  });

  it('samples with the tempered frequencies and never outside the kept set', () => {
    const rng = rngFor('freq', 1);
    const T = 0.7;
    const counts = new Array<number>(V).fill(0);
    const N = 20000;
    for (let i = 0; i < N; i++) counts[chooseToken(logits, 0, V, { temperature: T, topK: 0, topP: 1 }, rng.next())]!++;
    probs(T).forEach((p, i) => expect(Math.abs(counts[i]! / N - p)).toBeLessThan(0.015));
    for (let i = 0; i < 2000; i++) {
      expect([1, 4]).toContain(chooseToken(logits, 0, V, { temperature: 1, topK: 2, topP: 1 }, rng.next()));
    }
  });
});
