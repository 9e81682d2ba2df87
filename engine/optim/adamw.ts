// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), step for step as torch.optim.AdamW
// (single-tensor path, amsgrad off, maximize off):
//   p ← p·(1 − lr·λ)
//   m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
// Parameters and moments are float32; each element is updated in float64 and rounded once when stored.
// √v / √(1 − β2ᵗ) is computed as √v · (1 / √(1 − β2ᵗ)) (a float64 ulp apart at most, which the float32
// rounding absorbs but for ties ~2⁻²⁹ of the time): divisions bound the loop, and this one is per step, not per element.
// The elements go through a WebAssembly SIMD kernel (adamw-simd.ts) computing the scalar loop's bits, two at a time.

import { AdamWKernel, CHUNK, UNROLL, adamWKernel } from './adamw-simd';

export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Optimizer state: first/second moments per parameter name and the number of steps taken. */
export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
  /** The kernel whose memory holds the moments (updated in place there); absent: moments are copied through. */
  kernel?: AdamWKernel;
}

/** Zero moments for every parameter, allocated in a SIMD kernel's memory where possible. */
export function createAdamWState(params: Map<string, { data: Float32Array }>): AdamWState {
  const lengths = [...params.values()].map((p) => p.data.length);
  const kernel = AdamWKernel.create([...lengths, ...lengths]);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, p] of params) {
    m.set(name, kernel ? kernel.alloc(p.data.length) : new Float32Array(p.data.length));
    v.set(name, kernel ? kernel.alloc(p.data.length) : new Float32Array(p.data.length));
  }
  return kernel ? { step: 0, m, v, kernel } : { step: 0, m, v };
}

/** A state from saved moments (a checkpoint): copied into a kernel's memory where possible, else used as they are. */
export function restoreAdamWState(step: number, m: Map<string, Float32Array>, v: Map<string, Float32Array>): AdamWState {
  const names = [...m.keys()];
  const kernel = AdamWKernel.create([...names.map((n) => m.get(n)!.length), ...names.map((n) => v.get(n)?.length ?? 0)]);
  if (!kernel) return { step, m, v };
  const copy = (src: Float32Array) => {
    const a = kernel.alloc(src.length);
    a.set(src);
    return a;
  };
  return {
    step,
    m: new Map(names.map((n) => [n, copy(m.get(n)!)])),
    v: new Map([...v].map(([n, x]) => [n, copy(x)])),
    kernel,
  };
}

/**
 * One AdamW step over every parameter with a gradient, in place. `grads` maps names to gradients of the same
 * length (parameters without a gradient are left untouched, as torch skips `p.grad is None`). `gradScale`
 * (gradient clipping's factor, see clip.ts) multiplies each gradient as it is read, rounded to float32 as an
 * in-place clip would store it; the gradients themselves are not modified.
 */
export function adamWStep(
  params: Map<string, { data: Float32Array }>,
  grads: Map<string, Float32Array>,
  state: AdamWState,
  lr: number,
  h: AdamWHyper,
  gradScale = 1,
): void {
  state.step += 1;
  const t = state.step;
  const bc1 = 1 - Math.pow(h.beta1, t);
  const bc2Sqrt = Math.sqrt(1 - Math.pow(h.beta2, t));
  const u: ElementUpdate = {
    gradScale,
    beta1: h.beta1,
    beta2: h.beta2,
    eps: h.eps,
    decay: 1 - lr * h.weightDecay,
    stepSize: lr / bc1,
    invBc2Sqrt: 1 / bc2Sqrt,
  };
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (!g) continue;
    const m = state.m.get(name);
    const v = state.v.get(name);
    if (!m || !v) throw new Error(`AdamW: no optimizer state for parameter "${name}"`);
    if (g.length !== p.data.length) throw new Error(`AdamW: gradient of "${name}" has ${g.length} values, parameter has ${p.data.length}`);
    updateTensor(p.data, g, m, v, u, state.kernel);
  }
}

/** The per-element constants of one step. */
export interface ElementUpdate {
  gradScale: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 − lr·λ */
  decay: number;
  /** lr / (1 − β1ᵗ) */
  stepSize: number;
  /** 1 / √(1 − β2ᵗ) */
  invBc2Sqrt: number;
}

/**
 * One parameter tensor: the SIMD kernel (adamw-simd.ts) over whole chunks — on the moments in place when they
 * live in `own`'s memory, else copied through the shared kernel's chunks — and the scalar loop for the rest.
 */
function updateTensor(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, u: ElementUpdate, own?: AdamWKernel): void {
  const n = w.length;
  const inPlace = own && own.holds(m) && own.holds(v) ? own : null;
  const k = inPlace ?? adamWKernel();
  let done = 0;
  if (k) {
    const oneMinusBeta1 = 1 - u.beta1;
    const oneMinusBeta2 = 1 - u.beta2;
    // Chunks of a multiple of 2·UNROLL elements each; the last few elements go through the scalar loop.
    for (let o = 0; o + 2 * UNROLL <= n; o += CHUNK) {
      const len = Math.min(CHUNK, n - o) & ~(2 * UNROLL - 1);
      const end = o + len;
      k.w.set(w.subarray(o, end));
      k.g.set(g.subarray(o, end));
      if (!inPlace) {
        k.m.set(m.subarray(o, end));
        k.v.set(v.subarray(o, end));
      }
      const mBase = inPlace ? m.byteOffset + 4 * o : AdamWKernel.chunkMoments.m;
      const vBase = inPlace ? v.byteOffset + 4 * o : AdamWKernel.chunkMoments.v;
      k.update(len, mBase, vBase, u.gradScale, u.beta1, oneMinusBeta1, u.beta2, oneMinusBeta2, u.decay, u.stepSize, u.invBc2Sqrt, u.eps);
      w.set(len === CHUNK ? k.w : k.w.subarray(0, len), o);
      if (!inPlace) {
        m.set(len === CHUNK ? k.m : k.m.subarray(0, len), o);
        v.set(len === CHUNK ? k.v : k.v.subarray(0, len), o);
      }
      done = end;
    }
  }
  updateElements(w, g, m, v, u, done, n);
}

/**
 * The update of elements [from, to) as a scalar loop: the definition (the kernel reproduces its bits). Each
 * element is computed in float64 and rounded once to float32 when stored.
 */
export function updateElements(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, u: ElementUpdate, from: number, to: number): void {
  const { gradScale, beta1, beta2, eps, decay, stepSize, invBc2Sqrt } = u;
  const oneMinusBeta1 = 1 - beta1;
  const oneMinusBeta2 = 1 - beta2;
  for (let i = from; i < to; i++) {
    const gi = gradScale === 1 ? g[i]! : Math.fround(g[i]! * gradScale);
    // Moments are stored as float32: the update reads them back rounded, as torch does.
    const mi = Math.fround(beta1 * m[i]! + oneMinusBeta1 * gi);
    const vi = Math.fround(beta2 * v[i]! + oneMinusBeta2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) * invBc2Sqrt + eps);
  }
}
