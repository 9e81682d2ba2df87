// The key/value cache of a batch being decoded, in plain JS buffers.
//
// Per layer, keys and values are [rows, kvHeads, capacity, headDim]: `capacity` slots per row, of which the
// first `used` hold computed positions. The decoder graph takes the whole buffer as its past (zero-copy) with
// an attention mask [rows, capacity + 1] that is 1 on the slots a row may attend to (its real prompt tokens
// and generated tokens; left padding and unused slots are 0) and on the new token. Positions are explicit
// inputs, so a slot's index need not equal its token's position. After each step the new K/V rows are
// written into slot `used`. Capacity grows in chunks; finished rows are dropped by `keepRows`.

export interface CacheDims {
  layers: number;
  kvHeads: number;
  headDim: number;
}

export class KvCache {
  keys: Float32Array[];
  values: Float32Array[];
  /** [rows, capacity + 1]: the last column is the token being computed. */
  mask: BigInt64Array;
  rows: number;
  capacity: number;
  used: number;

  private constructor(
    readonly dims: CacheDims,
    rows: number,
    capacity: number,
    readonly chunk: number,
  ) {
    this.rows = rows;
    this.capacity = capacity;
    this.used = 0;
    const n = rows * dims.kvHeads * capacity * dims.headDim;
    this.keys = Array.from({ length: dims.layers }, () => new Float32Array(n));
    this.values = Array.from({ length: dims.layers }, () => new Float32Array(n));
    this.mask = new BigInt64Array(rows * (capacity + 1));
    for (let r = 0; r < rows; r++) this.mask[r * (capacity + 1) + capacity] = 1n;
  }

  /**
   * A cache holding a prefill's present K/V ([rows, kvHeads, len, headDim] per layer) in slots 0..len−1,
   * with `valid` [rows, len] (1 = real token, 0 = padding).
   */
  static fromPrefill(
    dims: CacheDims,
    present: { key: Float32Array; value: Float32Array }[],
    valid: ArrayLike<number>,
    rows: number,
    len: number,
    chunk = 32,
  ): KvCache {
    const c = new KvCache(dims, rows, len + chunk, chunk);
    const { kvHeads, headDim } = dims;
    for (let l = 0; l < dims.layers; l++) {
      const p = present[l]!;
      for (let rh = 0; rh < rows * kvHeads; rh++) {
        const src = rh * len * headDim;
        const dst = rh * c.capacity * headDim;
        c.keys[l]!.set(p.key.subarray(src, src + len * headDim), dst);
        c.values[l]!.set(p.value.subarray(src, src + len * headDim), dst);
      }
    }
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < len; t++) c.mask[r * (c.capacity + 1) + t] = valid[r * len + t] ? 1n : 0n;
    }
    c.used = len;
    return c;
  }

  /** Writes one step's new K/V rows ([rows, kvHeads, 1, headDim] per layer) into slot `used`. */
  append(present: { key: Float32Array; value: Float32Array }[]): void {
    if (this.used === this.capacity) this.resize(this.capacity + this.chunk);
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

  /** Makes sure the next step has a free slot (call before running a step). */
  reserve(): void {
    if (this.used === this.capacity) this.resize(this.capacity + this.chunk);
  }

  /** Keeps only the given rows (in that order): finished rows stop costing compute. */
  keepRows(rows: number[]): void {
    this.rebuild(rows, this.capacity);
  }

  private resize(capacity: number): void {
    this.rebuild(
      Array.from({ length: this.rows }, (_, r) => r),
      capacity,
    );
  }

  private rebuild(rows: number[], capacity: number): void {
    const { kvHeads, headDim, layers } = this.dims;
    const oldCap = this.capacity;
    const n = rows.length * kvHeads * capacity * headDim;
    const copy = Math.min(this.used, capacity) * headDim;
    for (let l = 0; l < layers; l++) {
      const k = new Float32Array(n);
      const v = new Float32Array(n);
      rows.forEach((r, i) => {
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
    rows.forEach((r, i) => {
      for (let t = 0; t < this.used; t++) mask[i * (capacity + 1) + t] = this.mask[r * (oldCap + 1) + t]!;
      mask[i * (capacity + 1) + capacity] = 1n;
    });
    this.mask = mask;
    this.rows = rows.length;
    this.capacity = capacity;
  }
}
