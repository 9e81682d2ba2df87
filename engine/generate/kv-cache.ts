// The key/value cache of the rows being decoded, in plain JS buffers.
//
// Per layer, keys and values are [rows, kvHeads, capacity, headDim]: `capacity` slots per row, of which the
// first `used` may hold computed positions. The decoder graph takes the whole buffer as its past (zero-copy)
// with an attention mask [rows, capacity + 1] that is 1 on the slots a row may attend to (its real prompt
// tokens and generated tokens; left padding, gaps and unused slots are 0) and on the new token. Positions are
// explicit inputs, so a slot's index need not equal its token's position: a row admitted later puts its
// prompt in slots 0…len−1 and continues at the shared slot `used` like every other row (continuous batching).
// After each step the new K/V rows are written into slot `used`. Capacity grows in chunks; finished rows are
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
    this.rebuild(
      [...Array.from({ length: first }, (_, r) => r), ...source.map(() => -1)],
      used < this.capacity ? this.capacity : used + this.chunk,
    );
    const cap = this.capacity;
    for (let l = 0; l < layers; l++) {
      const p = present[l]!;
      source.forEach((u, i) => {
        for (let h = 0; h < kvHeads; h++) {
          const src = (u * kvHeads + h) * len * headDim;
          const dst = ((first + i) * kvHeads + h) * cap * headDim;
          this.keys[l]!.set(p.key.subarray(src, src + len * headDim), dst);
          this.values[l]!.set(p.value.subarray(src, src + len * headDim), dst);
        }
      });
    }
    source.forEach((u, i) => {
      for (let t = 0; t < len; t++) this.mask[(first + i) * (cap + 1) + t] = valid[u * len + t] ? 1n : 0n;
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

  /** Makes sure slot `used` exists (call before running a step). */
  reserve(): void {
    if (this.used >= this.capacity) {
      this.rebuild(
        Array.from({ length: this.rows }, (_, r) => r),
        this.used + this.chunk,
      );
    }
  }

  /** Keeps only the given rows (in that order): finished rows stop costing compute. */
  keepRows(rows: number[]): void {
    this.rebuild(rows, this.capacity);
  }

  /** New buffers holding `rows` (old row indices; −1 = an empty new row) with `capacity` slots. */
  private rebuild(rows: number[], capacity: number): void {
    const { kvHeads, headDim, layers } = this.dims;
    const oldCap = this.capacity;
    const n = rows.length * kvHeads * capacity * headDim;
    const copy = Math.min(this.used, capacity, oldCap) * headDim;
    for (let l = 0; l < layers; l++) {
      const k = new Float32Array(n);
      const v = new Float32Array(n);
      rows.forEach((r, i) => {
        if (r < 0) return;
        for (let h = 0; h < kvHeads; h++) {
          const src = (r * kvHeads + h) * oldCap * headDim;
          const dst = (i * kvHeads + h) * capacity * headDim;
          k.set(this.keys[l]!.subarray(src, src + copy), dst);
          v.set(this.values[l]!.subarray(src, src + copy), dst);
        }
      });
      this.keys[l] = k;
      this.values[l] = v;
    }
    const mask = new BigInt64Array(rows.length * (capacity + 1));
    const keepSlots = Math.min(this.used, capacity, oldCap);
    rows.forEach((r, i) => {
      if (r >= 0) for (let t = 0; t < keepSlots; t++) mask[i * (capacity + 1) + t] = this.mask[r * (oldCap + 1) + t]!;
      mask[i * (capacity + 1) + capacity] = 1n;
    });
    this.mask = mask;
    this.rows = rows.length;
    this.capacity = capacity;
  }
}
