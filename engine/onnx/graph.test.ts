import { describe, expect, it } from 'vitest';
import { Graph, TO_END } from './graph';
import { createSession, tensor, toNumbers } from './session';

describe('onnx graph builder', () => {
  it('builds and runs a small graph with symbolic dims', async () => {
    const g = new Graph('float64');
    const x = g.input('x', 'float64', ['B', 3]);
    const w = g.initializer('w', 'float64', [3, 2], [1, 2, 3, 4, 5, 6]);
    const y = g.matmul(x, w);
    expect(y.shape).toEqual(['B', 2]);
    const z = g.softmax(g.add(y, g.scalar(1)), -1);
    const s = g.reduceSum(z, [1], false);
    const sl = g.slice(x, [1], [TO_END], [1]);
    expect(sl.shape).toEqual(['B', 2]);
    g.output('y', y);
    g.output('s', s);
    g.output('sl', sl);
    const sess = await createSession(g.toBytes(), { optimization: 'basic' });
    const r = await sess.run({ x: tensor('float64', [1, 0, 0, 0, 1, 1], [2, 3]) });
    expect(toNumbers(r['y']!)).toEqual([1, 2, 8, 10]);
    expect(toNumbers(r['s']!).map((v) => Math.round(v * 1e9) / 1e9)).toEqual([1, 1]);
    expect(toNumbers(r['sl']!)).toEqual([0, 0, 1, 1]);
    expect(r['sl']!.dims).toEqual([2, 2]);
    await sess.release();
  });

  it('cancels a double transpose and reports dtype mismatches', () => {
    const g = new Graph('float32');
    const w = g.input('w', 'float32', [4, 5]);
    expect(g.transpose(g.transpose(w, [1, 0]), [1, 0])).toBe(w);
    const i = g.input('i', 'int64', [4]);
    expect(() => g.add(w, i)).toThrow(/dtype mismatch/);
  });
});

describe('createSession', () => {
  it('falls back from fused kernels that lack float64 support', async () => {
    const g = new Graph('float64');
    const x = g.input('x', 'float64', [2]);
    g.output('y', g.mul(x, g.sigmoid(x))); // fused to com.microsoft.QuickGelu (float only) at level 'all'
    const s = await createSession(g.toBytes());
    const r = await s.run({ x: tensor('float64', [0, 1], [2]) });
    expect(toNumbers(r['y']!)[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    await s.release();
  });
});
