// Central finite-difference checks of graph gradients, in float64 (used by the engine's tests).

import type { Graph, Value } from '../onnx/graph';
import { Graph as GraphClass } from '../onnx/graph';
import type { ort } from '../onnx/session';
import { createSession, tensor, toNumbers } from '../onnx/session';
import { grad } from './grad';

export interface FdInput {
  name: string;
  shape: number[];
  /** float64 (differentiated) unless 'int64'/'bool' (data required). */
  dtype?: 'float64' | 'int64' | 'bool';
  data?: number[];
  /** Don't differentiate this float input. */
  constant?: boolean;
  /** Declared graph shape (may be symbolic, e.g. ['B', 4]); default `shape`. */
  dims?: (number | string)[];
}

export interface FdResult {
  /** Per differentiated input: max |analytic − FD| / max(|FD|, |analytic|) over checked coordinates. */
  relErr: Record<string, number>;
  maxRelErr: number;
  checked: number;
}

/** Deterministic PRNG (mulberry32) for finite-difference and model tests. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Builds out = build(g, inputs) in float64, L = Σ out ⊙ R (R fixed random), its gradients with `grad`, and
 * compares them with central differences at up to `maxCoords` random coordinates per input.
 */
export async function checkGradients(
  inputs: FdInput[],
  build: (g: Graph, xs: Value[]) => Value,
  opts: { seed?: number; eps?: number; maxCoords?: number; range?: [number, number] } = {},
): Promise<FdResult> {
  const rnd = mulberry32(opts.seed ?? 1);
  const [lo, hi] = opts.range ?? [-1, 1];
  const g = new GraphClass('float64', 'fd');
  const xs = inputs.map((i) => g.input(i.name, i.dtype ?? 'float64', i.dims ?? i.shape));
  const out = build(g, xs);
  // L = Σ out ⊙ R with R a fixed pseudo-random pattern sin(1.7·i + 0.3) built in-graph from out's runtime shape
  // (so symbolic output dims work); R does not depend on any input's values.
  const size = g.node('Size', [out], {}, [{ dtype: 'int64', shape: [] }])[0]!;
  const iota = g.cast(g.range(g.scalar(0, 'int64'), size, g.scalar(1, 'int64'), 'n'), 'float64');
  const R = g.reshapeLike(g.sin(g.add(g.mul(iota, g.scalar(1.7)), g.scalar(0.3))), out);
  const loss = g.reduceSum(g.mul(out, R), Array.from({ length: out.rank }, (_, i) => i), false);
  const diffIdx = inputs.map((i, k) => ((i.dtype ?? 'float64') === 'float64' && !i.constant ? k : -1)).filter((k) => k >= 0);
  const grads = grad(g, loss, diffIdx.map((k) => xs[k]!));
  g.output('loss', loss);
  grads.forEach((d, j) => g.output(`grad_${inputs[diffIdx[j]!]!.name}`, d));
  const sess = await createSession(g.toBytes(), { optimization: 'basic' });
  const data = inputs.map((i) => {
    const m = i.shape.reduce((a, b) => a * b, 1);
    return i.data ? [...i.data] : Array.from({ length: m }, () => lo + (hi - lo) * rnd());
  });
  const feeds = (): Record<string, ort.Tensor> => {
    const f: Record<string, ort.Tensor> = {};
    inputs.forEach((i, k) => (f[i.name] = tensor(i.dtype ?? 'float64', data[k]!, i.shape)));
    return f;
  };
  const base = await sess.run(feeds());
  const eps = opts.eps ?? 1e-6;
  const res: FdResult = { relErr: {}, maxRelErr: 0, checked: 0 };
  for (const k of diffIdx) {
    const name = inputs[k]!.name;
    const analytic = toNumbers(base[`grad_${name}`]!);
    const m = data[k]!.length;
    let coords = Array.from({ length: m }, (_, i) => i);
    const maxC = opts.maxCoords ?? 64;
    if (m > maxC) coords = Array.from({ length: maxC }, () => Math.floor(rnd() * m));
    let num = 0;
    let den = 0;
    for (const c of coords) {
      const x0 = data[k]![c]!;
      data[k]![c] = x0 + eps;
      const lp = toNumbers((await sess.run(feeds()))['loss']!)[0]!;
      data[k]![c] = x0 - eps;
      const lm = toNumbers((await sess.run(feeds()))['loss']!)[0]!;
      data[k]![c] = x0;
      const fd = (lp - lm) / (2 * eps);
      num = Math.max(num, Math.abs(fd - analytic[c]!));
      den = Math.max(den, Math.abs(fd), Math.abs(analytic[c]!));
      res.checked++;
    }
    const e = den === 0 ? 0 : num / den;
    res.relErr[name] = e;
    res.maxRelErr = Math.max(res.maxRelErr, e);
  }
  await sess.release();
  return res;
}
