// Seeds derive from (run seed, stage, iteration, shard, prompt index, sample index, ...) — never from
// wall-clock time, worker identity or attempt number — so a retried or resumed step reproduces its output.
// Pure module: importable from workflow code.

export type SeedPart = string | number;

/**
 * The seed of one step as a readable path, e.g. `42/iter-0001/generate`. The engine takes string seeds and
 * mixes in prompt ids and sample indices itself (engine/api.ts GenerateOptions.seed).
 */
export function deriveSeed(runSeed: SeedPart, ...parts: SeedPart[]): string {
  for (const p of [runSeed, ...parts]) {
    if (typeof p === 'number' && !Number.isFinite(p)) throw new Error(`seed part must be finite (got ${p})`);
    if (typeof p === 'string' && p.includes('/')) throw new Error(`seed part must not contain '/' (got '${p}')`);
  }
  return [runSeed, ...parts].map(String).join('/');
}

/** 32-bit FNV-1a hash of a string's UTF-16 code units, finished with a murmur3 avalanche. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** An unsigned 32-bit integer seed for (run seed, parts...). */
export function seedInt(runSeed: SeedPart, ...parts: SeedPart[]): number {
  return hash32(deriveSeed(runSeed, ...parts));
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number;
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; the same seed gives the same stream everywhere. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int(lo, hi) {
      if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new Error(`invalid integer range [${lo}, ${hi}]`);
      return lo + Math.floor(next() * (hi - lo + 1));
    },
  };
}

/** A seeded permutation of 0..n-1 (Fisher–Yates). */
export function seededPermutation(n: number, seed: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`permutation size must be a non-negative integer (got ${n})`);
  const out = Array.from({ length: n }, (_, i) => i);
  const rng = createRng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = out[i] as number;
    out[i] = out[j] as number;
    out[j] = t;
  }
  return out;
}

/**
 * The prompt-pool indices of iteration `iteration` (1-based): slice `[(t−1)·count, t·count)` of one seeded
 * permutation of the pool, so iterations never share a prompt and a rerun picks the same prompts.
 */
export function iterationPromptIndices(poolSize: number, count: number, iteration: number, runSeed: SeedPart): number[] {
  if (!Number.isInteger(iteration) || iteration < 1) throw new Error(`iteration must be an integer ≥ 1 (got ${iteration})`);
  if (!Number.isInteger(count) || count < 1) throw new Error(`prompt count must be an integer ≥ 1 (got ${count})`);
  const end = iteration * count;
  if (end > poolSize) {
    throw new Error(`prompt pool has ${poolSize} prompts; iteration ${iteration} needs prompts ${end - count}..${end - 1} (${count} per iteration)`);
  }
  return seededPermutation(poolSize, seedInt(runSeed, 'prompt-pool')).slice(end - count, end);
}
