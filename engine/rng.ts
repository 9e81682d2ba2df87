// A counter-based random number generator: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011), keyed by a SHA-256 hash of a string seed and any number of keys.
//
// `rngFor(seed, promptId, sampleIndex)` gives the same stream on every run, machine and worker: the stream
// depends only on its keys, never on time, order of calls or which process draws it. The whole state is
// (key, position): serializable as JSON and restorable bit-for-bit.

import { createHash } from 'node:crypto';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 (exact, via 16-bit limbs). */
function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const loLo = aLo * bLo;
  const hiLo = aHi * bLo;
  const loHi = aLo * bHi;
  const cross = (loLo >>> 16) + (hiLo & 0xffff) + loHi;
  return (aHi * bHi + (hiLo >>> 16) + Math.floor(cross / 65536)) >>> 0;
}

/** One Philox4x32-10 block: counter (4 × u32), key (2 × u32) → 4 × u32. */
export function philox4x32(counter: readonly number[], key: readonly number[]): [number, number, number, number] {
  let c0 = counter[0]! >>> 0;
  let c1 = counter[1]! >>> 0;
  let c2 = counter[2]! >>> 0;
  let c3 = counter[3]! >>> 0;
  let k0 = key[0]! >>> 0;
  let k1 = key[1]! >>> 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** The serializable state of an Rng. */
export interface RngState {
  /** 4 × u32 derived from the seed and keys: [key0, key1, stream0, stream1]. */
  key: [number, number, number, number];
  /** Number of u32 words drawn so far. */
  position: number;
}

export class Rng {
  private readonly k: [number, number, number, number];
  private pos: number;
  private block: [number, number, number, number] | null = null;
  private blockIndex = -1;

  constructor(state: RngState) {
    this.k = [...state.key];
    this.pos = state.position;
  }

  /** The state to restore this stream exactly where it is now (`new Rng(state)` / `Rng.fromState`). */
  state(): RngState {
    return { key: [...this.k], position: this.pos };
  }

  static fromState(s: RngState): Rng {
    return new Rng(s);
  }

  /** A uniform u32. */
  nextU32(): number {
    const b = Math.floor(this.pos / 4);
    if (b !== this.blockIndex || this.block === null) {
      // 128-bit counter: [block low, block high, stream0, stream1]
      this.block = philox4x32([b >>> 0, Math.floor(b / 4294967296) >>> 0, this.k[2], this.k[3]], [this.k[0], this.k[1]]);
      this.blockIndex = b;
    }
    const v = this.block[this.pos % 4]!;
    this.pos++;
    return v;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** A uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const u = this.nextU32();
      if (u < limit) return u % n;
    }
  }

  /** A standard normal draw (Box–Muller; uses two uniforms per draw, so the state stays a plain position). */
  normal(): number {
    let u1 = this.next();
    while (u1 <= 0) u1 = this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i]!;
      xs[i] = xs[j]!;
      xs[j] = t;
    }
    return xs;
  }
}

/** Key material for (seed, ...keys): SHA-256 of an unambiguous encoding, first 16 bytes as 4 × u32. */
export function rngKey(seed: string, ...keys: (string | number)[]): [number, number, number, number] {
  const h = createHash('sha256')
    .update(JSON.stringify([String(seed), ...keys.map((k) => (typeof k === 'number' ? `n:${k}` : `s:${k}`))]))
    .digest();
  return [h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12)];
}

/** The random stream for (seed, ...keys), e.g. `rngFor(seed, promptId, sampleIndex)` or `rngFor(seed, 'data', epoch)`. */
export function rngFor(seed: string, ...keys: (string | number)[]): Rng {
  return new Rng({ key: rngKey(seed, ...keys), position: 0 });
}

/** A seeded permutation of 0..n-1: the data order of one epoch, `shuffledIndices(n, rngFor(seed, 'epoch', e))`. */
export function shuffledIndices(n: number, rng: Rng): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}
