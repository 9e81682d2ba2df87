import { describe, expect, it } from 'vitest';
import { adamWStep, createAdamWState } from './adamw';
import { clipCoefficient, clipGradNorm, globalGradNorm } from './clip';
import { learningRateAt, lrMultiplier, warmupSteps } from './schedule';

describe('AdamW', () => {
  it('matches hand-computed torch.optim.AdamW updates for two steps', () => {
    const params = new Map([['w', { data: new Float32Array([1, -2]) }]]);
    const state = createAdamWState(params);
    const h = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    adamWStep(params, new Map([['w', new Float32Array([0.5, 0])]]), state, 0.1, h);
    // step 1: p·(1 − 0.001) − 0.1 · (0.05 / 0.1) / (√0.00025 / √0.001 + 1e-8) = 0.999 − 0.1·0.5/(0.5 + 1e-8)
    expect(params.get('w')!.data[0]).toBeCloseTo(0.999 - (0.1 * 0.5) / (0.5 + 1e-8), 6);
    expect(params.get('w')!.data[1]).toBeCloseTo(-2 * 0.999, 6); // zero gradient: decay only
    adamWStep(params, new Map([['w', new Float32Array([-0.25, 0])]]), state, 0.1, h);
    // step 2 by hand: p = 0.899·0.999; m = 0.02; v = 0.00031225; bc1 = 0.19; bc2 = 0.001999
    const expected = 0.899 * 0.999 - ((0.1 / 0.19) * 0.02) / (Math.sqrt(0.00031225) / Math.sqrt(0.001999) + 1e-8);
    expect(params.get('w')!.data[0]).toBeCloseTo(expected, 6);
    expect(expected).toBeCloseTo(0.871468, 5);
    expect(state.step).toBe(2);
    expect(state.m.get('w')![0]).toBeCloseTo(0.02, 7);
    expect(state.v.get('w')![0]).toBeCloseTo(0.00031225, 9);
  });
});

describe('clip_grad_norm', () => {
  it('scales by max/(norm + 1e-6) only when above max', () => {
    const g = new Map([['a', new Float32Array([3])], ['b', new Float32Array([4, 0])]]);
    expect(clipGradNorm(g, 10)).toBe(5);
    expect([...g.get('b')!]).toEqual([4, 0]);
    expect(clipGradNorm(g, 1)).toBe(5);
    expect(g.get('a')![0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    expect(g.get('b')![0]).toBeCloseTo(4 / (5 + 1e-6), 6);
  });
});

describe('clipping applied by AdamW (gradScale)', () => {
  it('gives the same bits as clipping in place then stepping, and leaves the gradients as they were', () => {
    const n = 1000;
    const init = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7));
    const grad = () => Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.3) * 3);
    const h = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const a = new Map([['w', { data: Float32Array.from(init) }]]);
    const b = new Map([['w', { data: Float32Array.from(init) }]]);
    const sa = createAdamWState(a);
    const sb = createAdamWState(b);
    for (let step = 0; step < 3; step++) {
      const ga = new Map([['w', grad()]]);
      clipGradNorm(ga, 1);
      adamWStep(a, ga, sa, 1e-3, h);
      const gb = new Map([['w', grad()]]);
      const coef = clipCoefficient(globalGradNorm(gb.values()), 1);
      expect(coef).toBeLessThan(1);
      adamWStep(b, gb, sb, 1e-3, h, coef);
      expect([...gb.get('w')!]).toEqual([...grad()]);
    }
    // Views (the moments live in a kernel's memory, see createAdamWState).
    const bits = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    expect(bits(b.get('w')!.data).equals(bits(a.get('w')!.data))).toBe(true);
    expect(bits(sb.m.get('w')!).equals(bits(sa.m.get('w')!))).toBe(true);
    expect(bits(sb.v.get('w')!).equals(bits(sa.v.get('w')!))).toBe(true);
  });
});

describe('schedules (HF get_*_schedule_with_warmup)', () => {
  it('warm-up steps are ceil(T · ratio)', () => {
    expect(warmupSteps(100, 0.03)).toBe(3);
    expect(warmupSteps(10, 0.03)).toBe(1);
    expect(warmupSteps(10, 0)).toBe(0);
  });
  it('linear warm-up then cosine / linear / constant', () => {
    // T = 10, W = 2
    expect(lrMultiplier('cosine', 0, 10, 2)).toBe(0);
    expect(lrMultiplier('cosine', 1, 10, 2)).toBe(0.5);
    expect(lrMultiplier('cosine', 2, 10, 2)).toBe(1);
    expect(lrMultiplier('cosine', 6, 10, 2)).toBeCloseTo(0.5, 12); // halfway: ½(1 + cos(π/2))
    expect(lrMultiplier('cosine', 4, 10, 2)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(lrMultiplier('cosine', 10, 10, 2)).toBeCloseTo(0, 12);
    expect(lrMultiplier('linear', 6, 10, 2)).toBe(0.5);
    expect(lrMultiplier('linear', 9, 10, 2)).toBe(0.125);
    expect(lrMultiplier('constant', 9, 10, 2)).toBe(1);
    expect(lrMultiplier('constant', 0, 10, 0)).toBe(1);
    expect(learningRateAt({ learningRate: 2e-5, schedule: 'linear', warmupRatio: 0.1 }, 4, 10)).toBeCloseTo(2e-5 * (6 / 9), 15);
  });
});
