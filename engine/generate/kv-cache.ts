// The key/value cache of the rows being decoded, in plain JS buffers.
//
// Per layer, keys and values are [rows, kvHeads, capacity, headDim]: `capacity` slots per row; every row
// writes its newest token into the shared slot `used`. The decoder graph takes the whole buffer as its past
// (zero-copy) with an attention mask [rows, capacity + 1] that is 1 on the slots a row may attend to (its
// real prompt tokens and generated tokens; left padding, gaps and unused slots are 0) and on the new token.
// Positions are explicit graph inputs, so a slot's index need not equal its token's position.
//
// Continuous batching: a row admitted later puts its prompt right before `used` (slots used−len … used−1; if
// the prompt is longer than `used`, `used` moves up and the other rows get a masked gap), then continues at
// `used` like every other row. Slots before the earliest row's first slot are dropped by shifting everything
// left, so the capacity follows the longest live row, not the length of the whole call. Finished rows are
// dropped by `keepRows`.

export interface CacheDims {
  layers: number;
  kvHeads: number;
  headDim: number;
}

/** One layer's K/V of a prefill: [rows, kvHeads, len, headDim]. */
export interface PresentKv {
  key: Float32Array;
  value: Float32Array;
}

export class KvCache {
  keys: Float32Array[];
  values: Float32Array[];
  /** [rows, capacity + 1]: the last column is the token being computed. */
  mask: BigInt64Array;
  rows = 0;
  capacity = 0;
  used = 0;
  /** First slot of each row. */
  private start: number[] = [];

  constructor(
    readonly dims: CacheDims,
    readonly chunk = 32,
  ) {
    this.keys = Array.from({ length: dims.layers }, () => new Float32Array(0));
    this.values = Array.from({ length: dims.layers }, () => new Float32Array(0));
    this.mask = new BigInt64Array(0);
  }

  /**
   * Adds rows whose prompts were prefilled together: `present` per layer [u, kvHeads, len, headDim], `valid`
   * [u, len] (1 = real token, 0 = padding), and for each new row the prefill row it copies (`source`).
   */
  addRows(present: PresentKv[], valid: ArrayLike<number>, len: number, source: number[]): void {
    const { kvHeads, headDim, layers } = this.dims;
    const first = this.rows;
    const used = Math.max(this.used, len);
    const base = used - len;
    this.rebuild(
      [...Array.from({ length: first }, (_, r) => r), ...source.map(() => -1)],
      used < this.capacity ? this.capacity : used + this.chunk,
      0,
    );
    const cap = this.capacity;
    for (let l = 0; l < layers; l++) {
      const p = present[l]!;
      source.forEach((u, i) => {
        for (let h = 0; h < kvHeads; h++) {
          const src = (u * kvHeads + h) * len * headDim;
          const dst = (((first + i) * kvHeads + h) * cap + base) * headDim;
          this.keys[l]!.set(p.key.subarray(src, src + len * headDim), dst);
          this.values[l]!.set(p.value.subarray(src, src + len * headDim), dst);
        }
      });
    }
    source.forEach((u, i) => {
      for (let t = 0; t < len; t++) this.mask[(first + i) * (cap + 1) + base + t] = valid[u * len + t] ? 1n : 0n;
      this.start[first + i] = base;
    });
    this.used = used;
  }

  /** Writes one step's new K/V rows ([rows, kvHeads, 1, headDim] per layer) into slot `used`. */
  append(present: PresentKv[]): void {
    this.reserve();
    const { kvHeads, headDim } = this.dims;
    const slot = this.used;
    for (let l = 0; l < this.dims.layers; l++) {
      const p = present[l]!;
      for (let rh = 0; rh < this.rows * kvHeads; rh++) {
        const dst = (rh * this.capacity + slot) * headDim;
        this.keys[l]!.set(p.key.subarray(rh * headDim, (rh + 1) * headDim), dst);
        this.values[l]!.set(p.value.subarray(rh * headDim, (rh + 1) * headDim), dst);
      }
    }
    for (let r = 0; r < this.rows; r++) this.mask[r * (this.capacity + 1) + slot] = 1n;
    this.used++;
  }

  /** Makes sure slot `used` exists (call before running a step): drops dead leading slots, else grows. */
  reserve(): void {
    if (this.used < this.capacity) return;
    const all = Array.from({ length: this.rows }, (_, r) => r);
    // Shifting by s frees s slots; shift only when that buys a few steps before the next rebuild.
    const shift = this.deadPrefix();
    if (shift >= Math.max(1, this.chunk / 4)) this.rebuild(all, this.capacity, shift);
    else this.rebuild(all, this.used + this.chunk, 0);
  }

  /** Keeps only the given rows (in that order): finished rows stop costing compute. */
  keepRows(rows: number[]): void {
    if (rows.length === 0) {
      this.keys = this.keys.map(() => new Float32Array(0));
      this.values = this.values.map(() => new Float32Array(0));
      this.mask = new BigInt64Array(0);
      this.rows = this.capacity = this.used = 0;
      this.start = [];
      return;
    }
    this.rebuild(rows, this.capacity, 0);
    const shift = this.deadPrefix();
    if (shift >= this.chunk) this.rebuild(rows.map((_, i) => i), this.capacity, shift);
  }

  /** Slots before every row's first slot. */
  private deadPrefix(): number {
    return this.rows === 0 ? this.used : Math.min(...this.start);
  }

  /**
   * New buffers holding `rows` (old row indices; −1 = an empty new row) with `capacity` slots, slot s of the
   * old buffers moving to s − shift.
   */
  private rebuild(rows: number[], capacity: number, shift: number): void {
    const { kvHeads, headDim, layers } = this.dims;
    const oldCap = this.capacity;
    const keep = Math.max(0, Math.min(this.used, oldCap) - shift);
    if (keep > capacity) throw new Error(`KvCache: ${keep} live slots do not fit a capacity of ${capacity}`);
    const n = rows.length * kvHeads * capacity * headDim;
    for (let l = 0; l < layers; l++) {
      const k = new Float32Array(n);
      const v = new Float32Array(n);
      rows.forEach((r, i) => {
        if (r < 0) return;
        for (let h = 0; h < kvHeads; h++) {
          const src = ((r * kvHeads + h) * oldCap + shift) * headDim;
          const dst = (i * kvHeads + h) * capacity * headDim;
          k.set(this.keys[l]!.subarray(src, src + keep * headDim), dst);
          v.set(this.values[l]!.subarray(src, src + keep * headDim), dst);
        }
      });
      this.keys[l] = k;
      this.values[l] = v;
    }
    const mask = new BigInt64Array(rows.length * (capacity + 1));
    rows.forEach((r, i) => {
      if (r >= 0) for (let t = 0; t < keep; t++) mask[i * (capacity + 1) + t] = this.mask[r * (oldCap + 1) + shift + t]!;
      mask[i * (capacity + 1) + capacity] = 1n;
    });
    this.mask = mask;
    this.start = rows.map((r) => (r >= 0 ? this.start[r]! - shift : 0));
    this.rows = rows.length;
    this.capacity = capacity;
    this.used -= shift;
  }
}
