import type { Graph, Value } from '../onnx/graph';

/** softplus(x) = log(1 + eˣ), computed stably as max(x, 0) + log(1 + e^−|x|) (no float64 Softplus kernel). */
export function softplus(g: Graph, x: Value): Value {
  return g.add(g.relu(x), g.log(g.add(g.scalar(1, x.dtype), g.exp(g.neg(g.abs(x))))));
}

/** log σ(x) = −softplus(−x). */
export function logSigmoid(g: Graph, x: Value): Value {
  return g.neg(softplus(g, g.neg(x)));
}
