import { describe, expect, it } from 'vitest';
import { checkGradients } from '../fd';

const TOL = 1e-3;

describe('MatMul rule vs central finite differences (float64)', () => {
  it('2-D x 2-D', async () => {
    const r = await checkGradients(
      [
        { name: 'a', shape: [3, 4] },
        { name: 'b', shape: [4, 2] },
      ],
      (g, [a, b]) => g.matmul(a!, b!),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('batched activations x weight (x · Wᵀ)', async () => {
    const r = await checkGradients(
      [
        { name: 'x', shape: [2, 3, 4] },
        { name: 'w', shape: [5, 4] },
      ],
      (g, [x, w]) => g.matmul(x!, g.transpose(w!, [1, 0])),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('broadcast batch axes (grouped-query attention layout)', async () => {
    const r = await checkGradients(
      [
        { name: 'q', shape: [2, 2, 3, 4, 2] },
        { name: 'k', shape: [2, 2, 1, 2, 5] },
      ],
      (g, [q, k]) => g.matmul(q!, k!),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('rank mismatch (3-D x 4-D)', async () => {
    const r = await checkGradients(
      [
        { name: 'a', shape: [3, 2, 4] },
        { name: 'b', shape: [2, 1, 4, 3] },
      ],
      (g, [a, b]) => g.matmul(a!, b!),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
});
