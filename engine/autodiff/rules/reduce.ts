// Backward rules of reductions, softmax and log-softmax.

import type { Graph, Node, Value } from '../../onnx/graph';
import { dimProduct } from '../../onnx/graph';
import type { GradRule } from './types';

function reducedAxes(g: Graph, node: Node): number[] {
  const x = node.inputs[0]!;
  const axesV = node.inputs[1];
  if (!axesV) return Array.from({ length: x.rank }, (_, i) => i);
  const d = g.constData(axesV);
  if (!d) throw new Error(`grad ${node.opType}: axes must be constant`);
  return Array.from(d as ArrayLike<number | bigint>, (a) => (Number(a) < 0 ? Number(a) + x.rank : Number(a)));
}

/** dY broadcast back over the reduced axes, to the input's shape. */
function spread(g: Graph, node: Node, dY: Value): Value {
  const x = node.inputs[0]!;
  const axes = reducedAxes(g, node);
  const keep = (node.attrs['keepdims'] ?? 1) === 1;
  const d = keep ? dY : g.unsqueeze(dY, axes);
  return g.expandLike(d, x);
}

export const ReduceSum: GradRule = (g, node, [dY]) => [spread(g, node, dY!), null];

export const ReduceMean: GradRule = (g, node, [dY]) => {
  const x = node.inputs[0]!;
  const n = dimProduct(reducedAxes(g, node).map((a) => x.shape[a]!));
  let scaled: Value;
  if (typeof n === 'number') scaled = g.mul(dY!, g.scalar(1 / n, dY!.dtype));
  else {
    const size = (v: Value): Value => g.cast(g.node('Size', [v], {}, [{ dtype: 'int64', shape: [] }])[0]!, dY!.dtype);
    scaled = g.div(g.mul(dY!, size(node.outputs[0]!)), size(x));
  }
  return [spread(g, node, scaled), null];
};

/** ReduceMax: the gradient goes to every position equal to the max. */
export const ReduceMax: GradRule = (g, node, [dY]) => {
  const x = node.inputs[0]!;
  const keep = (node.attrs['keepdims'] ?? 1) === 1;
  const y = keep ? node.outputs[0]! : g.unsqueeze(node.outputs[0]!, reducedAxes(g, node));
  const hit = g.equal(x, y);
  return [g.where(hit, spread(g, node, dY!), g.scalar(0, x.dtype)), null];
};

/** y = softmax(x): dx = y · (dy − Σ dy·y). */
export const Softmax: GradRule = (g, node, [dY]) => {
  const y = node.outputs[0]!;
  const axis = node.attrs['axis'] as number;
  const dot = g.reduceSum(g.mul(dY!, y), [axis], true);
  return [g.mul(y, g.sub(dY!, dot))];
};

/** y = log_softmax(x): dx = dy − exp(y) · Σ dy. */
export const LogSoftmax: GradRule = (g, node, [dY]) => {
  const y = node.outputs[0]!;
  const axis = node.attrs['axis'] as number;
  return [g.sub(dY!, g.mul(g.exp(y), g.reduceSum(dY!, [axis], true)))];
};
