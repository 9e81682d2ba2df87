import { describe, expect, it } from 'vitest';
import { TO_END } from '../../onnx/graph';
import { checkGradients } from '../fd';

const TOL = 1e-3;
const x234 = [{ name: 'x', shape: [2, 3, 4] }];

describe('shape and indexing rules vs central finite differences (float64)', () => {
  it('Reshape', async () => {
    expect((await checkGradients(x234, (g, [x]) => g.mul(g.reshape(x!, [0, -1]), g.reshape(x!, [2, 12])))).maxRelErr).toBeLessThan(TOL);
  });
  it('Squeeze / Unsqueeze', async () => {
    const r = await checkGradients([{ name: 'x', shape: [2, 1, 4] }], (g, [x]) => g.exp(g.unsqueeze(g.squeeze(x!, [1]), [0])));
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('Transpose', async () => {
    expect((await checkGradients(x234, (g, [x]) => g.exp(g.transpose(x!, [2, 0, 1])))).maxRelErr).toBeLessThan(TOL);
  });
  it('Concat', async () => {
    const r = await checkGradients(
      [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [2, 2] },
      ],
      (g, [a, b]) => g.exp(g.concat([a!, g.neg(b!), a!], 1)),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('Split (one output unused)', async () => {
    const r = await checkGradients(x234, (g, [x]) => {
      const [p, , q] = g.split(x!, 2, [1, 2, 1]);
      return g.mul(p!, g.exp(q!));
    });
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('Split into equal parts', async () => {
    const r = await checkGradients(x234, (g, [x]) => {
      const [p, q] = g.splitEqual(x!, 0, 2);
      return g.mul(p!, q!);
    });
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('Slice (negative and to-end bounds)', async () => {
    const r = await checkGradients(x234, (g, [x]) => g.exp(g.slice(x!, [1, -3], [TO_END, -1], [1, 2])));
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('Gather (embedding, repeated ids)', async () => {
    const r = await checkGradients(
      [
        { name: 'w', shape: [5, 3] },
        { name: 'ids', shape: [2, 3], dtype: 'int64', data: [0, 4, 4, 2, 0, 0] },
      ],
      (g, [w, ids]) => g.gather(w!, ids!, 0),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('GatherElements', async () => {
    const r = await checkGradients(
      [
        { name: 'x', shape: [2, 4] },
        { name: 'idx', shape: [2, 3], dtype: 'int64', data: [3, 3, 0, 1, 2, 1] },
      ],
      (g, [x, idx]) => g.gatherElements(g.exp(x!), idx!, 1),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('Expand', async () => {
    const r = await checkGradients([{ name: 'x', shape: [3, 1] }], (g, [x]) => g.exp(g.expand(x!, g.ints([2, 3, 4]), [2, 3, 4])));
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('Pad', async () => {
    const r = await checkGradients([{ name: 'x', shape: [2, 3] }], (g, [x]) => g.exp(g.pad(x!, [1, 0, 0, 2])));
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
});

describe('rules on symbolic dims (runtime-shape paths)', () => {
  it('Concat along a symbolic axis', async () => {
    const r = await checkGradients(
      [
        { name: 'a', shape: [2, 3], dims: [2, 'A'] },
        { name: 'b', shape: [2, 2], dims: [2, 'B'] },
      ],
      (g, [a, b]) => g.exp(g.concat([a!, b!], 1)),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('Slice of a symbolic dim (to-end and negative end)', async () => {
    const r = await checkGradients([{ name: 'x', shape: [3, 5], dims: ['N', 'T'] }], (g, [x]) => g.exp(g.slice(x!, [1, 0], [TO_END, -1], [0, 1])));
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
  it('Reshape (symbolic) and Flatten', async () => {
    const r = await checkGradients([{ name: 'x', shape: [2, 3, 4], dims: ['B', 'T', 4] }], (g, [x]) => {
      const flat = g.node('Flatten', [x!], { axis: 2 }, [{ dtype: 'float64', shape: ['B*T', 4] }])[0]!;
      return g.mul(g.exp(flat), g.reshape(x!, [-1, 4], ['B*T', 4]));
    });
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
});
