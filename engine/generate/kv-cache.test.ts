import { describe, expect, it } from 'vitest';
import { KvCache } from './kv-cache';
import { rngFor } from '../rng';

/** What each live row must see: its real tokens' keys, in order. */
function visible(c: KvCache, r: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < c.capacity; t++) if (c.mask[r * (c.capacity + 1) + t] === 1n) out.push(c.keys[0]![r * c.capacity + t]!);
  return out;
}

describe('KvCache (continuous batching)', () => {
  it('keeps every row’s history through admissions, steps, drops, shifts and growth; capacity follows the live rows', () => {
    const chunk = 8;
    const c = new KvCache({ layers: 1, kvHeads: 1, headDim: 1 }, chunk);
    const rng = rngFor('kv', 0);
    let next = 1;
    let live: number[][] = []; // expected visible keys per cache row
    const admit = (lens: number[]) => {
      // Left-padded prefill of distinct prompts; each new row copies one of them (samples share prompts).
      const S = Math.max(...lens);
      const key = new Float32Array(lens.length * S);
      const valid = new Uint8Array(lens.length * S);
      const prompts = lens.map((len, u) => {
        const ks: number[] = [];
        for (let k = 0; k < len; k++) {
          key[u * S + S - len + k] = next;
          valid[u * S + S - len + k] = 1;
          ks.push(next++);
        }
        return ks;
      });
      const source = lens.flatMap((_, u) => (rng.int(2) === 0 ? [u] : [u, u]));
      c.addRows([{ key, value: key }], valid, S, source);
      live = [...live, ...source.map((u) => [...prompts[u]!])];
    };
    const step = () => {
      c.reserve();
      const key = Float32Array.from(live, () => next++);
      c.append([{ key, value: key }]);
      live.forEach((h, r) => h.push(key[r]!));
    };
    const check = () => live.forEach((h, r) => expect(visible(c, r)).toEqual(h));

    admit([3, 5]);
    check();
    let maxSpan = 0;
    for (let s = 0; s < 300; s++) {
      step();
      if (s % 7 === 3 && live.length > 0) {
        const keep = live.map((_, r) => r).filter(() => rng.int(3) !== 0);
        c.keepRows(keep);
        live = keep.map((r) => live[r]!);
      }
      if (live.length < 4) admit([1 + rng.int(12), 1 + rng.int(4)]);
      check();
      maxSpan = Math.max(maxSpan, ...live.map((h) => h.length + 12));
      // Without shifting, capacity would grow with the 300 steps of the whole run.
      expect(c.capacity).toBeLessThanOrEqual(maxSpan + 2 * chunk);
    }
    expect(c.rows).toBe(live.length);
    c.keepRows([]);
    expect(c.capacity).toBe(0);
  });
});
