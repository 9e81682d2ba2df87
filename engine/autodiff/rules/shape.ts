// Backward rules of shape and indexing ops.

import type { Value } from '../../onnx/graph';
import { GraphError, TO_END } from '../../onnx/graph';
import { unbroadcast } from './broadcast';
import type { GradRule } from './types';

/** Reshape / Squeeze / Unsqueeze / Flatten: reshape the gradient back to the input's shape. */
export const ReshapeLike: GradRule = (g, node, [dY]) => [g.reshapeLike(dY!, node.inputs[0]!)];

export const Transpose: GradRule = (g, node, [dY]) => {
  const perm = node.attrs['perm'] as number[];
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return [g.transpose(dY!, inv)];
};

/** Concat → Split of the gradient with the inputs' sizes along the axis. */
export const Concat: GradRule = (g, node, [dY], needs) => {
  const axis = node.attrs['axis'] as number;
  const ins = node.inputs as Value[];
  const sizes = ins.map((v) => v.shape[axis]!);
  let parts: Value[];
  if (sizes.every((s) => typeof s === 'number')) parts = g.split(dY!, axis, sizes as number[]);
  else {
    const split = g.concat(ins.map((v) => g.shapeOf(v, axis, axis + 1)), 0);
    parts = g.node(
      'Split',
      [dY!, split],
      { axis },
      ins.map((v) => ({ dtype: dY!.dtype, shape: [...v.shape] })),
    );
  }
  return parts.map((p, i) => (needs[i] ? p : null));
};

/** Split → Concat of the output gradients (zeros for outputs without one). */
export const Split: GradRule = (g, node, dOut) => {
  const axis = node.attrs['axis'] as number;
  const parts = node.outputs.map((o, i) => dOut[i] ?? g.zerosLike(o));
  return [g.concat(parts, axis), null];
};

function intsOf(g: Parameters<GradRule>[0], v: Value | null | undefined, what: string): number[] {
  if (!v) throw new GraphError(`grad Slice: missing ${what}`);
  const d = g.constData(v);
  if (!d) throw new GraphError(`grad Slice: ${what} must be constant`);
  return Array.from(d as ArrayLike<number | bigint>, Number);
}

/** Slice (step 1, constant bounds) → Pad the gradient with zeros. */
export const Slice: GradRule = (g, node, [dY]) => {
  const x = node.inputs[0]!;
  const starts = intsOf(g, node.inputs[1], 'starts');
  const ends = intsOf(g, node.inputs[2], 'ends');
  const axes = node.inputs[3] ? intsOf(g, node.inputs[3], 'axes') : starts.map((_, i) => i);
  const steps = node.inputs[4] ? intsOf(g, node.inputs[4], 'steps') : starts.map(() => 1);
  const pads = new Array<number>(2 * x.rank).fill(0);
  axes.forEach((a0, i) => {
    const a = a0 < 0 ? a0 + x.rank : a0;
    if (steps[i] !== 1) throw new GraphError('grad Slice: only step 1 is supported');
    const d = x.shape[a]!;
    let s = starts[i]!;
    let e = ends[i]!;
    if (typeof d === 'number') {
      s = Math.min(Math.max(s < 0 ? s + d : s, 0), d);
      e = Math.min(Math.max(e < 0 ? e + d : e, 0), d);
      pads[a] = s;
      pads[a + x.rank] = d - Math.max(e, s);
    } else {
      if (s < 0 || (e >= 0 && e < TO_END / 2)) {
        throw new GraphError(`grad Slice: bounds [${s}, ${e}) on symbolic dim ${d} are not supported`);
      }
      pads[a] = s;
      pads[a + x.rank] = e < 0 ? -e : 0;
    }
  });
  return [g.pad(dY!, pads, 0), null, null, null, null];
};

/** Gather(data, ids, axis 0) → ScatterND(zeros(data), ids[..., None], dY, add): repeated ids accumulate. */
export const Gather: GradRule = (g, node, [dY]) => {
  const [data, ids] = [node.inputs[0]!, node.inputs[1]!];
  if ((node.attrs['axis'] as number) !== 0) throw new GraphError('grad Gather: only axis 0 is supported');
  return [g.scatterND(g.zerosLike(data), g.unsqueeze(ids, [-1]), dY!, 'add'), null];
};

/** GatherElements → ScatterElements(zeros(data), idx, dY, add). */
export const GatherElements: GradRule = (g, node, [dY]) => {
  const [data, idx] = [node.inputs[0]!, node.inputs[1]!];
  return [g.scatterElements(g.zerosLike(data), idx, dY!, node.attrs['axis'] as number, 'add'), null];
};

/** Expand → sum over the expanded axes. */
export const Expand: GradRule = (g, node, [dY]) => [unbroadcast(g, dY!, node.inputs[0]!), null];

/** Pad (constant mode, static pads) → Slice of the gradient. */
export const Pad: GradRule = (g, node, [dY]) => {
  const x = node.inputs[0]!;
  const pads = intsOf(g, node.inputs[1], 'pads');
  const r = x.rank;
  const axes = Array.from({ length: r }, (_, i) => i);
  const starts = axes.map((i) => pads[i]!);
  const ends = axes.map((i) => (pads[i + r]! > 0 ? -pads[i + r]! : TO_END));
  return [g.slice(dY!, starts, ends, axes), null, null];
};
