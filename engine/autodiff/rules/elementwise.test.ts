import { describe, expect, it } from 'vitest';
import { checkGradients } from '../fd';

const TOL = 1e-3;

describe('elementwise rules vs central finite differences (float64)', () => {
  const bin = (name: string, f: Parameters<typeof checkGradients>[1], range?: [number, number]) =>
    it(`${name} with broadcasting`, async () => {
      const r = await checkGradients(
        [
          { name: 'a', shape: [2, 3, 4] },
          { name: 'b', shape: [3, 1] },
        ],
        f,
        range ? { range } : {},
      );
      expect(r.maxRelErr).toBeLessThan(TOL);
      expect(Object.keys(r.relErr)).toEqual(['a', 'b']);
    });
  bin('Add', (g, [a, b]) => g.add(a!, b!));
  bin('Sub', (g, [a, b]) => g.sub(a!, b!));
  bin('Mul', (g, [a, b]) => g.mul(a!, b!));
  bin('Div', (g, [a, b]) => g.div(a!, b!), [0.5, 2]);
  bin('Pow (tensor exponent)', (g, [a, b]) => g.pow(a!, b!), [0.5, 2]);
  bin('Max', (g, [a, b]) => g.max(a!, b!));
  bin('Min', (g, [a, b]) => g.min(a!, b!));

  const un = (name: string, f: Parameters<typeof checkGradients>[1], range?: [number, number]) =>
    it(name, async () => {
      const r = await checkGradients([{ name: 'x', shape: [3, 5] }], f, range ? { range } : {});
      expect(r.maxRelErr).toBeLessThan(TOL);
    });
  un('Neg', (g, [x]) => g.neg(x!));
  un('Identity', (g, [x]) => g.identity(x!));
  un('Exp', (g, [x]) => g.exp(x!));
  un('Log', (g, [x]) => g.log(x!), [0.5, 2]);
  un('Sqrt', (g, [x]) => g.sqrt(x!), [0.5, 2]);
  un('Reciprocal', (g, [x]) => g.reciprocal(x!), [0.5, 2]);
  un('Sigmoid', (g, [x]) => g.sigmoid(x!), [-3, 3]);
  un('Tanh', (g, [x]) => g.tanh(x!), [-2, 2]);
  un('Cos', (g, [x]) => g.cos(x!), [-3, 3]);
  un('Sin', (g, [x]) => g.sin(x!), [-3, 3]);
  un('Abs', (g, [x]) => g.abs(x!));
  un('Relu', (g, [x]) => g.relu(x!));
  un('Pow (constant exponent)', (g, [x]) => g.pow(x!, g.scalar(2.5)), [0.5, 2]);
  un('Mul(x, x)', (g, [x]) => g.mul(x!, x!));
  it('Cast float64→float32→float64 (float32 rounding: wide step)', async () => {
    const r = await checkGradients([{ name: 'x', shape: [3, 5] }], (g, [x]) => g.cast(g.cast(x!, 'float32'), 'float64'), { eps: 1e-2 });
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  un('Where', (g, [x]) => g.where(g.greater(x!, g.scalar(0)), g.mul(x!, x!), g.neg(x!)));
  it('Where with a broadcast branch', async () => {
    const r = await checkGradients(
      [
        { name: 'c', shape: [2, 3], dtype: 'bool', data: [1, 0, 1, 0, 0, 1] },
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [3] },
      ],
      (g, [c, a, b]) => g.where(c!, a!, b!),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
});
