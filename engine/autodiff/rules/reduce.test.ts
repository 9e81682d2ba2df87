import { describe, expect, it } from 'vitest';
import { checkGradients } from '../fd';

const TOL = 1e-3;
const x = [{ name: 'x', shape: [2, 3, 4] }];

describe('reduction and softmax rules vs central finite differences (float64)', () => {
  for (const keep of [true, false]) {
    it(`ReduceSum keepdims=${keep}`, async () => {
      expect((await checkGradients(x, (g, [v]) => g.exp(g.reduceSum(v!, [0, 2], keep)))).maxRelErr).toBeLessThan(TOL);
    });
    it(`ReduceMean keepdims=${keep}`, async () => {
      expect((await checkGradients(x, (g, [v]) => g.exp(g.reduceMean(v!, [-1], keep)))).maxRelErr).toBeLessThan(TOL);
    });
    it(`ReduceMax keepdims=${keep}`, async () => {
      expect((await checkGradients(x, (g, [v]) => g.reduceMax(v!, [1], keep))).maxRelErr).toBeLessThan(TOL);
    });
  }
  it('Softmax', async () => {
    expect((await checkGradients(x, (g, [v]) => g.softmax(v!, -1))).maxRelErr).toBeLessThan(TOL);
  });
  it('Softmax over a middle axis', async () => {
    expect((await checkGradients(x, (g, [v]) => g.softmax(v!, 1))).maxRelErr).toBeLessThan(TOL);
  });
  it('LogSoftmax', async () => {
    expect((await checkGradients(x, (g, [v]) => g.logSoftmax(v!, -1))).maxRelErr).toBeLessThan(TOL);
  });
});

describe('reductions over symbolic dims', () => {
  it('ReduceMean with a symbolic count', async () => {
    const r = await checkGradients([{ name: 'x', shape: [2, 3, 4], dims: ['B', 'T', 4] }], (g, [v]) => g.exp(g.reduceMean(v!, [0, 1], false)));
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('ReduceSum with symbolic dims', async () => {
    const r = await checkGradients([{ name: 'x', shape: [2, 3], dims: ['B', 'T'] }], (g, [v]) => g.exp(g.reduceSum(v!, [1], true)));
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
});
