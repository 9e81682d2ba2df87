// MatMul backward (batched, broadcast-aware). dA = dY · Bᵀ, dB = Aᵀ · dY, reduced over broadcast batch axes.
// For a 2-D B (a weight) and a batched A, dB is computed as one 2-D product over all rows:
// (dY₂ᵀ · A₂)ᵀ with A₂ = A reshaped to [rows, K], so x·Wᵀ layers give dW = dY₂ᵀ · A₂ with no extra transpose.

import type { Value } from '../../onnx/graph';
import { GraphError } from '../../onnx/graph';
import { unbroadcast } from './broadcast';
import type { GradRule } from './types';

function swapLast(r: number): number[] {
  const p = Array.from({ length: r }, (_, i) => i);
  p[r - 1] = r - 2;
  p[r - 2] = r - 1;
  return p;
}

export const MatMul: GradRule = (g, node, [dY], needs) => {
  const [a, b] = [node.inputs[0]!, node.inputs[1]!];
  if (a.rank < 2 || b.rank < 2) throw new GraphError('grad MatMul: 1-D operands are not supported');
  const d = dY!;
  let da: Value | null = null;
  let db: Value | null = null;
  if (needs[0]) da = unbroadcast(g, g.matmul(d, g.transpose(b, swapLast(b.rank))), a);
  if (needs[1]) {
    if (b.rank === 2 && a.rank > 2) {
      const K = a.shape[a.rank - 1]!;
      const N = b.shape[1]!;
      if (typeof K !== 'number' || typeof N !== 'number') throw new GraphError('grad MatMul: symbolic inner dims');
      const a2 = g.reshape(a, [-1, K]);
      const d2 = g.reshape(d, [-1, N]);
      db = g.transpose(g.matmul(g.transpose(d2, [1, 0]), a2), [1, 0]);
    } else {
      db = unbroadcast(g, g.matmul(g.transpose(a, swapLast(a.rank)), d), b);
    }
  }
  return [da, db];
};
