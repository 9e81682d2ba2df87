// Backward rules of elementwise ops (broadcast-aware).

import type { Value } from '../../onnx/graph';
import { unbroadcast } from './broadcast';
import type { GradRule } from './types';

const inp = (node: { inputs: (Value | null)[] }, i: number): Value => node.inputs[i]!;

export const Add: GradRule = (g, node, [dY], needs) => [
  needs[0] ? unbroadcast(g, dY!, inp(node, 0)) : null,
  needs[1] ? unbroadcast(g, dY!, inp(node, 1)) : null,
];

export const Sub: GradRule = (g, node, [dY], needs) => [
  needs[0] ? unbroadcast(g, dY!, inp(node, 0)) : null,
  needs[1] ? g.neg(unbroadcast(g, dY!, inp(node, 1))) : null,
];

export const Mul: GradRule = (g, node, [dY], needs) => {
  const [a, b] = [inp(node, 0), inp(node, 1)];
  if (a === b) return [g.mul(g.mul(dY!, a), g.scalar(2, a.dtype)), null];
  return [needs[0] ? unbroadcast(g, g.mul(dY!, b), a) : null, needs[1] ? unbroadcast(g, g.mul(dY!, a), b) : null];
};

/** y = a / b: da = dy / b, db = −dy · y / b. */
export const Div: GradRule = (g, node, [dY], needs) => {
  const [a, b] = [inp(node, 0), inp(node, 1)];
  const y = node.outputs[0]!;
  const dyOverB = g.div(dY!, b);
  return [needs[0] ? unbroadcast(g, dyOverB, a) : null, needs[1] ? unbroadcast(g, g.neg(g.mul(dyOverB, y)), b) : null];
};

export const Neg: GradRule = (g, _node, [dY]) => [g.neg(dY!)];

export const Identity: GradRule = (_g, _node, [dY]) => [dY ?? null];

export const Exp: GradRule = (g, node, [dY]) => [g.mul(dY!, node.outputs[0]!)];

export const Log: GradRule = (g, node, [dY]) => [g.div(dY!, inp(node, 0))];

/** y = √x: dx = dy · 0.5 / y. */
export const Sqrt: GradRule = (g, node, [dY]) => {
  const y = node.outputs[0]!;
  return [g.div(g.mul(dY!, g.scalar(0.5, y.dtype)), y)];
};

/** y = 1/x: dx = −dy · y². */
export const Reciprocal: GradRule = (g, node, [dY]) => {
  const y = node.outputs[0]!;
  return [g.neg(g.mul(dY!, g.mul(y, y)))];
};

/** y = σ(x): dx = dy · y · (1 − y). */
export const Sigmoid: GradRule = (g, node, [dY]) => {
  const y = node.outputs[0]!;
  return [g.mul(g.mul(dY!, y), g.sub(g.scalar(1, y.dtype), y))];
};

/** y = tanh(x): dx = dy · (1 − y²). */
export const Tanh: GradRule = (g, node, [dY]) => {
  const y = node.outputs[0]!;
  return [g.mul(dY!, g.sub(g.scalar(1, y.dtype), g.mul(y, y)))];
};

export const Cos: GradRule = (g, node, [dY]) => [g.neg(g.mul(dY!, g.sin(inp(node, 0))))];

export const Sin: GradRule = (g, node, [dY]) => [g.mul(dY!, g.cos(inp(node, 0)))];

export const Abs: GradRule = (g, node, [dY]) => {
  const x = inp(node, 0);
  return [g.where(g.less(x, g.scalar(0, x.dtype)), g.neg(dY!), dY!)];
};

export const Relu: GradRule = (g, node, [dY]) => {
  const x = inp(node, 0);
  return [g.where(g.greater(x, g.scalar(0, x.dtype)), dY!, g.scalar(0, x.dtype))];
};

/** y = a^b: da = dy · b · a^(b−1); db = dy · y · ln a. */
export const Pow: GradRule = (g, node, [dY], needs) => {
  const [a, b] = [inp(node, 0), inp(node, 1)];
  const y = node.outputs[0]!;
  let da: Value | null = null;
  if (needs[0]) {
    const c = g.constData(b);
    const bMinus1 = c && c.length === 1 ? g.constant(b.dtype, [...(b.shape as number[])], [Number(c[0]) - 1]) : g.sub(b, g.scalar(1, b.dtype));
    da = unbroadcast(g, g.mul(g.mul(dY!, b), g.pow(a, bMinus1)), a);
  }
  const db = needs[1] ? unbroadcast(g, g.mul(g.mul(dY!, y), g.log(a)), b) : null;
  return [da, db];
};

/** Max/Min: the gradient goes to the selected operand (ties: to the first). */
function select(first: 'Max' | 'Min'): GradRule {
  return (g, node, [dY], needs) => {
    const [a, b] = [inp(node, 0), inp(node, 1)];
    const y = node.outputs[0]!;
    const takeB = first === 'Max' ? g.less(a, b) : g.greater(a, b);
    const zero = g.scalar(0, y.dtype);
    return [
      needs[0] ? unbroadcast(g, g.where(takeB, zero, dY!), a) : null,
      needs[1] ? unbroadcast(g, g.where(takeB, dY!, zero), b) : null,
    ];
  };
}
export const Max = select('Max');
export const Min = select('Min');

/** Where(c, a, b): da = Where(c, dy, 0), db = Where(c, 0, dy). */
export const Where: GradRule = (g, node, [dY], needs) => {
  const [c, a, b] = [inp(node, 0), inp(node, 1), inp(node, 2)];
  const zero = g.scalar(0, dY!.dtype);
  return [
    null,
    needs[1] ? unbroadcast(g, g.where(c, dY!, zero), a) : null,
    needs[2] ? unbroadcast(g, g.where(c, zero, dY!), b) : null,
  ];
};

export const Cast: GradRule = (g, node, [dY]) => [g.cast(dY!, inp(node, 0).dtype)];
