// A small deterministic PRNG seeded from a string: pure code (no Node builtins), so tasks can run anywhere,
// including Temporal's workflow sandbox. Not cryptographic — it only has to be reproducible and well mixed.

/** FNV-1a over UTF-16 code units, 32-bit. */
export function hashString(text: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A seeded random source: sfc32 state from four independent string hashes of the seed. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number;
  /** True with probability p. */
  bernoulli(p: number): boolean;
  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T;
}

export function createRng(seed: string): Rng {
  let a = hashString(seed, 0x811c9dc5);
  let b = hashString(seed, 0x9e3779b9);
  let c = hashString(seed, 0x85ebca6b);
  let d = hashString(seed, 0xc2b2ae35);
  const nextU32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  // Discard the first outputs: the hashes of similar seeds are correlated.
  for (let i = 0; i < 15; i++) nextU32();
  const next = (): number => nextU32() / 4294967296;
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    bernoulli: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick: empty list');
      return items[Math.floor(next() * items.length)] as T;
    },
  };
}
