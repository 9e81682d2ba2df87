import { describe, expect, it } from 'vitest';
import { type AdamWState, type ElementUpdate, adamWStep, createAdamWState, restoreAdamWState, updateElements } from './adamw';
import { CHUNK, adamWKernel } from './adamw-simd';

/** Deterministic values of many magnitudes and signs (zeros, subnormals, tiny, large) from a small LCG. */
function values(n: number, seed: number, positive = false): Float32Array {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Float32Array.from({ length: n }, () => {
    const r = next();
    if (r < 0.02) return 0;
    if (r < 0.04) return (positive ? 1 : -1) * 1e-40; // float32 subnormal
    const mag = Math.pow(10, -12 + 14 * next());
    return positive || next() < 0.5 ? mag : -mag;
  });
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('AdamW SIMD kernel', () => {
  it('is available (WebAssembly SIMD) and validates', () => {
    expect(adamWKernel()).not.toBeNull();
  });

  const layouts: [string, (params: Map<string, { data: Float32Array }>) => AdamWState][] = [
    ['moments in the kernel’s memory (createAdamWState)', (p) => createAdamWState(p)],
    ['moments in plain arrays (copied through the chunks)', (p) => ({ step: 0, m: new Map([...p].map(([k, x]) => [k, new Float32Array(x.data.length)])), v: new Map([...p].map(([k, x]) => [k, new Float32Array(x.data.length)])) })],
  ];

  it('createAdamWState places the moments in a kernel’s memory; restoreAdamWState copies saved ones there', () => {
    const params = new Map([['a', { data: new Float32Array(5) }], ['b', { data: new Float32Array(CHUNK + 3) }]]);
    const s = createAdamWState(params);
    expect(s.kernel).toBeDefined();
    for (const x of [...s.m.values(), ...s.v.values()]) expect(s.kernel!.holds(x)).toBe(true);
    const saved = new Map([['a', Float32Array.from([1, 2, 3, 4, 5])]]);
    const r = restoreAdamWState(7, saved, new Map([['a', Float32Array.from([5, 4, 3, 2, 1])]]));
    expect(r.step).toBe(7);
    expect([...r.m.get('a')!]).toEqual([1, 2, 3, 4, 5]);
    expect([...r.v.get('a')!]).toEqual([5, 4, 3, 2, 1]);
    expect(r.kernel!.holds(r.m.get('a')!)).toBe(true);
  });

  it.each(layouts)('gives the scalar loop’s bits for parameters, moments, over chunk boundaries and ragged ends: %s', (_, makeState) => {
    const n = 3 * CHUNK + 13;
    const cases: { gradScale: number; weightDecay: number; steps: number; lr: number }[] = [
      { gradScale: 1, weightDecay: 0, steps: 1, lr: 5e-7 },
      { gradScale: 0.37, weightDecay: 0.01, steps: 3, lr: 1e-3 },
      { gradScale: 1, weightDecay: 0.1, steps: 2, lr: 0.5 },
    ];
    for (const [ci, c] of cases.entries()) {
      const w0 = values(n, 11 + ci);
      const h = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: c.weightDecay };
      // Two tensors: the second one's moments start past the first's in the kernel memory.
      const params = new Map([
        ['x', { data: values(CHUNK + 5, 3) }],
        ['w', { data: Float32Array.from(w0) }],
      ]);
      const state = makeState(params);
      const w = Float32Array.from(w0);
      const m = new Float32Array(n);
      const v = new Float32Array(n);
      for (let t = 1; t <= c.steps; t++) {
        const g = values(n, 100 * ci + t);
        adamWStep(params, new Map([['x', values(CHUNK + 5, t)], ['w', g]]), state, c.lr, h, c.gradScale);
        const u: ElementUpdate = {
          gradScale: c.gradScale,
          beta1: h.beta1,
          beta2: h.beta2,
          eps: h.eps,
          decay: 1 - c.lr * h.weightDecay,
          stepSize: c.lr / (1 - Math.pow(h.beta1, t)),
          invBc2Sqrt: 1 / Math.sqrt(1 - Math.pow(h.beta2, t)),
        };
        updateElements(w, g, m, v, u, 0, n);
      }
      expect(bits(params.get('w')!.data).equals(bits(w))).toBe(true);
      expect(bits(state.m.get('w')!).equals(bits(m))).toBe(true);
      expect(bits(state.v.get('w')!).equals(bits(v))).toBe(true);
    }
  });

  it('leaves the gradients unmodified and handles tensors shorter than one kernel block', () => {
    for (const n of [1, 5, 8, 9]) {
      const g = values(n, 7 + n);
      const gCopy = Float32Array.from(g);
      const params = new Map([['w', { data: values(n, 3 + n) }]]);
      const w = Float32Array.from(params.get('w')!.data);
      const state = createAdamWState(params);
      adamWStep(params, new Map([['w', g]]), state, 1e-3, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }, 0.5);
      const m = new Float32Array(n);
      const v = new Float32Array(n);
      updateElements(w, gCopy, m, v, { gradScale: 0.5, beta1: 0.9, beta2: 0.999, eps: 1e-8, decay: 1 - 1e-5, stepSize: 1e-3 / (1 - 0.9), invBc2Sqrt: 1 / Math.sqrt(1 - 0.999) }, 0, n);
      expect(bits(g).equals(bits(gCopy))).toBe(true);
      expect(bits(params.get('w')!.data).equals(bits(w))).toBe(true);
    }
  });
});
