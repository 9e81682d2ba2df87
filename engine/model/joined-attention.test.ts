import { describe, expect, it } from 'vitest';
import { checkGradients, mulberry32 } from '../autodiff/fd';
import { grad } from '../autodiff/grad';
import type { Graph, Value } from '../onnx/graph';
import { Graph as GraphClass } from '../onnx/graph';
import { createSession, tensor } from '../onnx/session';
import { type PastNewSizes, joinedScores, joinedValues } from './joined-attention';

const sizesOf = (g: Graph, kPast: Value, kNew: Value): PastNewSizes => ({
  sizes: g.concat([g.shapeOf(kPast, 2, 3), g.shapeOf(kNew, 2, 3)], 0),
  past: 'P',
  fresh: 'T',
  total: 'P+T',
});

/** softmax(q·[kp|kn]ᵀ)·[vp; vn] through the joined regions. */
function joined(g: Graph, [q, kp, kn, vp, vn]: Value[]): Value {
  const s = sizesOf(g, kp!, kn!);
  return joinedValues(g, g.softmax(joinedScores(g, q!, kp!, kn!, s), -1), vp!, vn!, s);
}

/** The plain form llama.ts builds without joinedKv: scores joined by a Concat, probabilities split. */
function plain(g: Graph, [q, kp, kn, vp, vn]: Value[]): Value {
  const t = (x: Value) => g.transpose(x, [0, 1, 3, 2]);
  const probs = g.softmax(g.concat([g.matmul(q!, t(kp!)), g.matmul(q!, t(kn!))], -1), -1);
  const [pp, pn] = g.node('Split', [probs, sizesOf(g, kp!, kn!).sizes], { axis: 3 }, [
    { dtype: g.dtype, shape: [...q!.shape.slice(0, 3), 'P'] },
    { dtype: g.dtype, shape: [...q!.shape.slice(0, 3), 'T'] },
  ]) as [Value, Value];
  return g.add(g.matmul(pp, vp!), g.matmul(pn, vn!));
}

const shapes = (B: number, H: number, R: number, P: number, T: number, hd: number) => ({
  q: [B, H, R, hd],
  kp: [B, H, P, hd],
  kn: [B, H, T, hd],
  vp: [B, H, P, hd],
  vn: [B, H, T, hd],
});

describe('joined-key attention regions', () => {
  it('gradients vs central finite differences (float64, every input)', async () => {
    const s = shapes(2, 2, 6, 3, 4, 4);
    const r = await checkGradients(
      Object.entries(s).map(([name, shape]) => ({ name, shape, dims: shape.map((d, i) => (i === 2 && name !== 'q' ? (name.endsWith('p') ? 'P' : 'T') : d)) })),
      (g, xs) => joined(g, xs),
    );
    expect(r.maxRelErr).toBeLessThan(1e-6);
  });

  it('an empty past (P = 0) works', async () => {
    const s = shapes(1, 2, 4, 0, 3, 4);
    const r = await checkGradients(
      Object.entries(s).map(([name, shape]) => ({ name, shape, dims: shape.map((d, i) => (i === 2 && name !== 'q' ? (name.endsWith('p') ? 'P' : 'T') : d)) })),
      (g, xs) => joined(g, xs),
    );
    expect(r.maxRelErr).toBeLessThan(1e-6);
  });

  it('float32: output and every gradient are the plain form’s bits (ORT optimization "all")', async () => {
    const s = shapes(4, 2, 3 * 40, 13, 40, 32);
    const rnd = mulberry32(5);
    const data = Object.fromEntries(Object.entries(s).map(([n, shape]) => [n, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * rnd() - 1)]));
    const dOut = Float32Array.from({ length: s.q.reduce((a, b) => a * b, 1) }, () => 2 * rnd() - 1);
    const run = async (form: (g: Graph, xs: Value[]) => Value) => {
      const g = new GraphClass('float32', 'attn');
      const xs = Object.entries(s).map(([n, shape]) => g.input(n, 'float32', shape.map((d, i) => (i === 2 && n !== 'q' ? (n.endsWith('p') ? 'P' : 'T') : d))));
      const out = form(g, xs);
      const seed = g.input('d_out', 'float32', s.q);
      const loss = g.reduceSum(g.mul(out, seed), [0, 1, 2, 3], false);
      g.output('out', out);
      grad(g, loss, xs).forEach((d, i) => g.output(`d_${Object.keys(s)[i]}`, d));
      const sess = await createSession(g.toBytes(), { optimization: 'all' });
      const feeds = Object.fromEntries(Object.entries(s).map(([n, shape]) => [n, tensor('float32', data[n]!, shape)]));
      const r = await sess.run({ ...feeds, d_out: tensor('float32', dOut, s.q) });
      await sess.release();
      return r;
    };
    const [a, b] = [await run(joined), await run(plain)];
    for (const name of ['out', ...Object.keys(s).map((n) => `d_${n}`)]) {
      const x = a[name]!.data as Float32Array;
      const y = b[name]!.data as Float32Array;
      expect(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength)), name).toBe(true);
    }
  });
});
