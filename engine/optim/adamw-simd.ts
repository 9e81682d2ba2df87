// AdamW's per-element update (adamw.ts) as a WebAssembly SIMD kernel: two elements per f64x2 lane pair, every
// operation the float64 operation the JavaScript loop performs, in the same order, with the same float32
// roundings (f32x4.demote_f64x2_zero is Math.fround / a Float32Array store: IEEE round-to-nearest-even). So
// the results are the JavaScript loop's bits; the kernel only removes the scalar loop's overhead and halves the
// number of divisions and square roots issued.
//
// Parameters and gradients (ordinary Float32Arrays) are copied chunk by chunk through two arrays of CHUNK
// floats in the kernel's memory; the moments either live in that memory (createAdamWState allocates them
// there) and are updated in place, or are copied through two more chunk arrays. The module is assembled here,
// byte by byte (no toolchain): one function
//   update(len, mBase, vBase, gradScale, beta1, 1 − beta1, beta2, 1 − beta2, decay, stepSize, 1/√(1 − β2ᵗ), eps)
// over `len` elements (a multiple of 2·UNROLL) of the chunk arrays W, G and the moments M, V at mBase, vBase:
//   g = f32(G·gradScale); M = f32(β1·M + (1 − β1)·g); V = f32(β2·V + (1 − β2)·g·g);
//   W = f32(W·decay − (stepSize·M) / (√V · 1/√(1 − β2ᵗ) + eps)).

/** Elements per chunk array (4 arrays × 32 KiB: the working set stays in L2). */
export const CHUNK = 8192;
const W_OFF = 0;
const G_OFF = CHUNK * 4;
const M_OFF = CHUNK * 8;
const V_OFF = CHUNK * 12;
/** Lane pairs per loop iteration: chunk lengths are multiples of 2·UNROLL. */
export const UNROLL = 4;
const MEMORY_PAGES = Math.ceil((CHUNK * 16) / 65536);

// --- a minimal WebAssembly binary encoder (just what the kernel uses) ---

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

const T = { i32: 0x7f, f64: 0x7c, v128: 0x7b } as const;

const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  i32Const: (n: number) => [0x41, ...uleb(n)], // signed LEB128: the same bytes as unsigned for 0 ≤ n < 64 (the kernel's constants)
  i32Add: [0x6a],
  i32Shl: [0x74],
  i32GeU: [0x4f],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  simd: (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm],
};

/** memarg: alignment exponent and offset. */
const memarg = (align: number, offset: number) => [...uleb(align), ...uleb(offset)];
const load64Zero = (offset: number) => op.simd(0x5d, ...memarg(3, offset)); // v128.load64_zero
const store64Lane0 = (offset: number) => op.simd(0x5b, ...memarg(3, offset), 0); // v128.store64_lane 0
const f64x2Splat = op.simd(0x14);
const promote = op.simd(0x5f); // f64x2.promote_low_f32x4
const demote = op.simd(0x5e); // f32x4.demote_f64x2_zero
const fadd = op.simd(0xf0);
const fsub = op.simd(0xf1);
const fmul = op.simd(0xf2);
const fdiv = op.simd(0xf3);
const fsqrt = op.simd(0xef);

function kernelModule(): Uint8Array {
  // Parameters: 0 len (i32), 1 mBase, 2 vBase (i32 byte addresses of the moments), 3…11 the f64
  // hyper-parameters (see the header), in that order.
  const HYPERS = 9;
  const MB = 1;
  const VB = 2;
  const H0 = 3;
  // Locals: 12 i (byte offset), 13 end (byte offset), 14…22 the hyper-parameters splatted, then g, m, v per lane pair.
  const I = 12;
  const END = 13;
  const S = (k: number) => 14 + k; // splat of parameter H0 + k
  const [GS, B1, OMB1, B2, OMB2, DECAY, STEP, INVBC, EPS] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(S) as number[];
  /** Locals g, m, v of lane pair `u` (UNROLL pairs per iteration). */
  const G = (u: number) => 14 + HYPERS + 3 * u;
  const M = (u: number) => 15 + HYPERS + 3 * u;
  const V = (u: number) => 16 + HYPERS + 3 * u;
  /** The byte address base + i. */
  const at = (base: number) => [...op.localGet(base), ...op.localGet(I), ...op.i32Add];
  const body: number[] = [];
  for (let k = 0; k < HYPERS; k++) body.push(...op.localGet(H0 + k), ...f64x2Splat, ...op.localSet(S(k)));
  body.push(...op.localGet(0), ...op.i32Const(2), ...op.i32Shl, ...op.localSet(END));
  body.push(...op.block, ...op.loop, ...op.localGet(I), ...op.localGet(END), ...op.i32GeU, ...op.brIf(1));
  const pairs = Array.from({ length: UNROLL }, (_, u) => u);
  const each = (f: (u: number) => number[]) => body.push(...pairs.flatMap(f));
  // g = f32(G · gradScale)
  each((u) => [...op.localGet(I), ...load64Zero(G_OFF + 8 * u), ...promote, ...op.localGet(GS!), ...fmul, ...demote, ...promote, ...op.localSet(G(u))]);
  // M = f32(β1·M + (1 − β1)·g)
  each((u) => [
    ...at(MB),
    ...op.localGet(B1!),
    ...at(MB),
    ...load64Zero(8 * u),
    ...promote,
    ...fmul,
    ...op.localGet(OMB1!),
    ...op.localGet(G(u)),
    ...fmul,
    ...fadd,
    ...demote,
    ...op.localTee(M(u)),
    ...store64Lane0(8 * u),
  ]);
  // V = f32(β2·V + ((1 − β2)·g)·g)
  each((u) => [
    ...at(VB),
    ...op.localGet(B2!),
    ...at(VB),
    ...load64Zero(8 * u),
    ...promote,
    ...fmul,
    ...op.localGet(OMB2!),
    ...op.localGet(G(u)),
    ...fmul,
    ...op.localGet(G(u)),
    ...fmul,
    ...fadd,
    ...demote,
    ...op.localTee(V(u)),
    ...store64Lane0(8 * u),
  ]);
  // W = f32(W·decay − (stepSize·M) / (√V · invBc2Sqrt + eps))
  each((u) => [
    ...op.localGet(I),
    ...op.localGet(I),
    ...load64Zero(W_OFF + 8 * u),
    ...promote,
    ...op.localGet(DECAY!),
    ...fmul,
    ...op.localGet(STEP!),
    ...op.localGet(M(u)),
    ...promote,
    ...fmul,
    ...op.localGet(V(u)),
    ...promote,
    ...fsqrt,
    ...op.localGet(INVBC!),
    ...fmul,
    ...op.localGet(EPS!),
    ...fadd,
    ...fdiv,
    ...fsub,
    ...demote,
    ...store64Lane0(W_OFF + 8 * u),
  ]);
  body.push(
    // i += UNROLL pairs of float32s
    ...op.localGet(I),
    ...op.i32Const(8 * UNROLL),
    ...op.i32Add,
    ...op.localSet(I),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.end,
  );
  const locals = vec([
    [...uleb(2), T.i32],
    [...uleb(HYPERS + 3 * UNROLL), T.v128],
  ]);
  const funcBody = [...locals, ...body];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    // type: (i32 × 3, f64 × 9) → ()
    ...section(1, vec([[0x60, ...vec([[T.i32], [T.i32], [T.i32], ...Array.from({ length: HYPERS }, () => [T.f64])]), ...vec([])]])),
    // import env.memory (min pages)
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(MEMORY_PAGES)]])),
    ...section(3, vec([uleb(0)])),
    ...section(7, vec([[...name('update'), 0x00, ...uleb(0)]])),
    ...section(10, vec([[...uleb(funcBody.length), ...funcBody]])),
  ];
  return Uint8Array.from(bytes);
}

/** The part of the WebAssembly JS API used here (the project's lib settings declare no WebAssembly values). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

type UpdateFn = (
  len: number,
  mBase: number,
  vBase: number,
  gradScale: number,
  beta1: number,
  oneMinusBeta1: number,
  beta2: number,
  oneMinusBeta2: number,
  decay: number,
  stepSize: number,
  invBc2Sqrt: number,
  eps: number,
) => void;

let compiled: { wasm: WasmApi; module: object } | null | undefined;

function compiledKernel(): { wasm: WasmApi; module: object } | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = kernelModule();
    if (wasm?.validate(bytes)) compiled = { wasm, module: new wasm.Module(bytes) };
  } catch {
    compiled = null;
  }
  return compiled;
}

/** Largest memory an instance takes (moments included); bigger optimizer states keep plain arrays. */
const MAX_MEMORY_BYTES = 2 ** 31;

/** Bytes an `alloc` of n floats takes (cache-line aligned). */
const aligned = (n: number) => Math.ceil((n * 4) / 64) * 64;

/**
 * An instance of the kernel over its own memory: four chunk arrays (w, g, m, v: the scratch the caller copies
 * chunks through) and, after them, room for moment arrays handed out by `alloc` — moments that live there are
 * updated in place (no copies).
 */
export class AdamWKernel {
  readonly w: Float32Array;
  readonly g: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  /**
   * Updates `len` elements (a multiple of 2·UNROLL): parameters and gradients from the w/g chunk arrays, the
   * moments at byte addresses mBase, vBase of this memory (the m/v chunk arrays: chunkMoments; or an `alloc`ed array).
   */
  readonly update: UpdateFn;
  private readonly buffer: ArrayBuffer;
  private next = MEMORY_PAGES * 65536;

  /**
   * A kernel with room to `alloc` arrays of the given lengths, or null (no WebAssembly SIMD, too big, or the
   * memory could not be reserved).
   */
  static create(lengths: number[] = []): AdamWKernel | null {
    const c = compiledKernel();
    const bytes = lengths.reduce((s, n) => s + aligned(n), MEMORY_PAGES * 65536);
    if (!c || bytes > MAX_MEMORY_BYTES) return null;
    const pages = Math.ceil(bytes / 65536);
    try {
      const memory = new c.wasm.Memory({ initial: pages, maximum: pages });
      const instance = new c.wasm.Instance(c.module, { env: { memory } });
      return new AdamWKernel(memory.buffer, instance.exports['update'] as UpdateFn);
    } catch {
      return null; // e.g. the memory could not be reserved
    }
  }

  private constructor(buffer: ArrayBuffer, fn: UpdateFn) {
    // The memory never grows (maximum = initial), so these views stay attached.
    this.buffer = buffer;
    this.update = fn;
    this.w = new Float32Array(buffer, W_OFF, CHUNK);
    this.g = new Float32Array(buffer, G_OFF, CHUNK);
    this.m = new Float32Array(buffer, M_OFF, CHUNK);
    this.v = new Float32Array(buffer, V_OFF, CHUNK);
  }

  /** A zeroed float32 array of length n in this kernel's memory. */
  alloc(n: number): Float32Array {
    if (this.next + n * 4 > this.buffer.byteLength) throw new Error(`AdamW kernel: no room for ${n} more floats`);
    const a = new Float32Array(this.buffer, this.next, n);
    this.next += aligned(n);
    return a;
  }

  /** Whether `a` lives in this kernel's memory. */
  holds(a: Float32Array): boolean {
    return a.buffer === this.buffer;
  }

  /** Byte addresses of the m and v chunk arrays (the `update` bases when moments are copied through them). */
  static readonly chunkMoments = { m: M_OFF, v: V_OFF } as const;
}

let shared: AdamWKernel | null | undefined;

/** The process's scratch-only kernel (moments copied through its chunks); null without WebAssembly SIMD. */
export function adamWKernel(): AdamWKernel | null {
  if (shared === undefined) shared = AdamWKernel.create();
  return shared;
}
