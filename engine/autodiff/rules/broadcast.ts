// Reducing a broadcast gradient back to an operand's shape.

import type { Graph, Value } from '../../onnx/graph';

/**
 * Sums `d` (shaped like a broadcast result) over the axes along which `like` was broadcast, giving a tensor of
 * `like`'s shape: leading extra axes, and axes where `like` has size 1 but `d` does not.
 */
export function unbroadcast(g: Graph, d: Value, like: Value): Value {
  const extra = d.rank - like.rank;
  const axes: number[] = [];
  for (let i = 0; i < d.rank; i++) {
    if (i < extra) axes.push(i);
    else if (like.shape[i - extra] === 1 && d.shape[i] !== 1) axes.push(i);
  }
  let r = axes.length ? g.reduceSum(d, axes, true) : d;
  if (extra > 0) r = g.squeeze(r, Array.from({ length: extra }, (_, i) => i));
  return r;
}
