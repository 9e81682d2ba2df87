import { describe, expect, it } from 'vitest';
import { Rng, philox4x32, rngFor, shuffledIndices } from './rng';

describe('Philox4x32-10', () => {
  it('matches the Random123 known-answer vectors', () => {
    // kat_vectors: philox4x32 10 rounds
    expect(philox4x32([0, 0, 0, 0], [0, 0]).map((x) => x.toString(16).padStart(8, '0'))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    expect(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]).map((x) => x.toString(16).padStart(8, '0'))).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    expect(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]).map((x) => x.toString(16).padStart(8, '0'))).toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });
});

describe('rngFor', () => {
  it('gives the same stream for the same keys and different streams otherwise', () => {
    const a = rngFor('42', 'prompt-7', 3);
    const b = rngFor('42', 'prompt-7', 3);
    const xs = Array.from({ length: 10 }, () => a.next());
    expect(Array.from({ length: 10 }, () => b.next())).toEqual(xs);
    const c = rngFor('42', 'prompt-7', 4);
    expect(c.next()).not.toBe(xs[0]);
    expect(rngFor('42', 7).next()).not.toBe(rngFor('42', '7').next());
  });
  it('restores from serialized state bit-for-bit', () => {
    const a = rngFor('s', 1);
    for (let i = 0; i < 5; i++) a.nextU32();
    const saved = JSON.parse(JSON.stringify(a.state())) as ReturnType<Rng['state']>;
    const rest = Array.from({ length: 9 }, () => a.normal());
    const b = Rng.fromState(saved);
    expect(Array.from({ length: 9 }, () => b.normal())).toEqual(rest);
  });
  it('draws uniform, normal and integers with the right moments', () => {
    const r = rngFor('moments');
    const n = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[r.int(3)]!++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(100);
    for (let i = 0; i < 1000; i++) {
      const u = r.next();
      expect(u >= 0 && u < 1).toBe(true);
    }
  });
  it('shuffles deterministically into a permutation', () => {
    const p = shuffledIndices(50, rngFor('data', 'epoch', 0));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p).toEqual(shuffledIndices(50, rngFor('data', 'epoch', 0)));
    expect(p).not.toEqual(shuffledIndices(50, rngFor('data', 'epoch', 1)));
  });
});
