import { describe, expect, it } from 'vitest';
import { Graph } from '../onnx/graph';
import { createSession, tensor, toNumbers } from '../onnx/session';
import { customGrad, grad } from './grad';

describe('grad', () => {
  it('gives zeros for a value the loss does not depend on, and accumulates over several uses', async () => {
    const g = new Graph('float64');
    const x = g.input('x', 'float64', [3]);
    const unused = g.input('u', 'float64', [2]);
    const loss = g.reduceSum(g.add(g.mul(x, x), g.mul(x, g.scalar(3))), [0], false); // Σ x² + 3x
    const [dx, du] = grad(g, loss, [x, unused]);
    g.output('dx', dx!);
    g.output('du', du!);
    const s = await createSession(g.toBytes(), { optimization: 'basic' });
    const r = await s.run({ x: tensor('float64', [1, -2, 0.5], [3]), u: tensor('float64', [7, 8], [2]) });
    expect(toNumbers(r['dx']!)).toEqual([5, -1, 4]);
    expect(toNumbers(r['du']!)).toEqual([0, 0]);
    await s.release();
  });

  it('names the op that has no gradient rule', () => {
    const g = new Graph('float64');
    const x = g.input('x', 'float64', [3]);
    const y = g.node('Erf', [x], {}, [{ dtype: 'float64', shape: [3] }])[0]!;
    expect(() => grad(g, g.reduceSum(y, [0], false), [x])).toThrow(/no gradient rule for Erf/);
  });

  it('uses a custom region rule instead of the region nodes', async () => {
    const g = new Graph('float64');
    const x = g.input('x', 'float64', [2]);
    // Forward Erf (no rule) inside a region whose rule says d/dx = 10 · dY: proves the region replaces its nodes.
    const [y] = customGrad(
      g,
      [x],
      () => [g.node('Erf', [x], {}, [{ dtype: 'float64', shape: [2] }])[0]!],
      (gg, [d]) => [gg.mul(d!, gg.scalar(10))],
    );
    const [dx] = grad(g, g.reduceSum(y!, [0], false), [x]);
    g.output('dx', dx!);
    const s = await createSession(g.toBytes(), { optimization: 'basic' });
    const r = await s.run({ x: tensor('float64', [0.1, 0.2], [2]) });
    expect(toNumbers(r['dx']!)).toEqual([10, 10]);
    await s.release();
  });
});
