// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), step for step as torch.optim.AdamW
// (single-tensor path, amsgrad off, maximize off):
//   p ← p·(1 − lr·λ)
//   m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
// Parameters and moments are float32; each element is updated in float64 and rounded once when stored.
// √v / √(1 − β2ᵗ) is computed as √v · (1 / √(1 − β2ᵗ)) (a float64 ulp apart at most, which the float32
// rounding absorbs but for ties ~2⁻²⁹ of the time): divisions bound the loop, and this one is per step, not per element.
// The elements go through a WebAssembly SIMD kernel (adamw-simd.ts) computing the scalar loop's bits, two at a time.

import { CHUNK, UNROLL, adamWKernel } from './adamw-simd';

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
}

export function createAdamWState(params: Map<string, { data: Float32Array }>): AdamWState {
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, p] of params) {
    m.set(name, new Float32Array(p.data.length));
    v.set(name, new Float32Array(p.data.length));
  }
  return { step: 0, m, v };
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
    updateTensor(p.data, g, m, v, u);
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

/** One parameter tensor: the SIMD kernel (adamw-simd.ts) over whole chunks, the scalar loop for the rest. */
function updateTensor(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, u: ElementUpdate): void {
  const n = w.length;
  const k = adamWKernel();
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
      k.m.set(m.subarray(o, end));
      k.v.set(v.subarray(o, end));
      k.update(len, u.gradScale, u.beta1, oneMinusBeta1, u.beta2, oneMinusBeta2, u.decay, u.stepSize, u.invBc2Sqrt, u.eps);
      w.set(len === CHUNK ? k.w : k.w.subarray(0, len), o);
      m.set(len === CHUNK ? k.m : k.m.subarray(0, len), o);
      v.set(len === CHUNK ? k.v : k.v.subarray(0, len), o);
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
