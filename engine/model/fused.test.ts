import { describe, expect, it } from 'vitest';
import { checkGradients } from '../autodiff/fd';
import { rmsNorm, swiglu } from './llama';

describe('fused regions vs central finite differences (float64)', () => {
  it('rmsNorm (x and w)', async () => {
    const r = await checkGradients(
      [
        { name: 'x', shape: [2, 3, 5] },
        { name: 'w', shape: [5] },
      ],
      (g, [x, w]) => rmsNorm(g, x!, w!, 1e-6),
    );
    expect(r.maxRelErr).toBeLessThan(1e-6);
  });
  it('rmsNorm with only x differentiated', async () => {
    const r = await checkGradients(
      [
        { name: 'x', shape: [4, 6] },
        { name: 'w', shape: [6], constant: true },
      ],
      (g, [x, w]) => rmsNorm(g, x!, w!, 1e-5),
    );
    expect(r.maxRelErr).toBeLessThan(1e-6);
  });
  it('swiglu (gate and up)', async () => {
    const r = await checkGradients(
      [
        { name: 'gate', shape: [2, 3, 4] },
        { name: 'up', shape: [2, 3, 4] },
      ],
      (g, [a, b]) => swiglu(g, a!, b!),
      { range: [-3, 3] },
    );
    expect(r.maxRelErr).toBeLessThan(1e-6);
  });
});
