// Reverse-mode differentiation over the builder's tape. The gradient ops are appended to the same graph, so
// they can reuse forward activations; only standard ONNX ops are emitted (rules in ./rules).

import type { Graph, Node, Value } from '../onnx/graph';
import { GraphError, isFloat } from '../onnx/graph';
import { RULES } from './rules';
import type { GradRule } from './rules/types';

/**
 * A region of the tape with a hand-written gradient (e.g. a fused RMSNorm or cross-entropy backward):
 * the nodes created inside are skipped by the reverse pass and `rule` maps the region's output gradients to
 * its input gradients. Values computed inside must not be used outside except through `outputs`.
 */
export interface CustomRegion {
  inputs: Value[];
  outputs: Value[];
  rule: (g: Graph, dOutputs: (Value | null)[], needs: boolean[]) => (Value | null)[];
}

const regionsOf = new WeakMap<Graph, CustomRegion[]>();

/**
 * Runs `forward` (which builds the region's nodes from `inputs`) with its nodes tagged so that `grad` uses
 * `rule` instead of differentiating them one by one.
 */
export function customGrad(
  g: Graph,
  inputs: Value[],
  forward: () => Value[],
  rule: CustomRegion['rule'],
): Value[] {
  const region: CustomRegion = { inputs, outputs: [], rule };
  const outputs = g.withTag(region, forward);
  region.outputs = outputs;
  const list = regionsOf.get(g) ?? [];
  list.push(region);
  regionsOf.set(g, list);
  return outputs;
}

/**
 * Gradients of `loss` with respect to `wrt` (values in the same graph: weight inputs, activations…).
 * `seed` is dL/dloss (default: ones of loss's shape). A value `loss` does not depend on gets zeros.
 */
export function grad(g: Graph, loss: Value, wrt: Value[], seed?: Value): Value[] {
  if (!isFloat(loss.dtype)) throw new GraphError(`grad: loss ${loss} is not a float tensor`);
  for (const w of wrt) if (!isFloat(w.dtype)) throw new GraphError(`grad: cannot differentiate w.r.t. ${w}`);

  // Forward: which values depend on some wrt value (through float paths).
  const depends = new Set<Value>(wrt);
  const tagOf = (n: Node): CustomRegion | undefined => g.nodeTags.get(n) as CustomRegion | undefined;
  for (const n of g.nodes) {
    if (n.inputs.some((i) => i !== null && depends.has(i))) {
      for (const o of n.outputs) if (isFloat(o.dtype)) depends.add(o);
    }
  }
  if (!depends.has(loss)) return wrt.map((w) => g.zerosLike(w));

  const grads = new Map<Value, Value>();
  const accumulate = (v: Value, d: Value): void => {
    const prev = grads.get(v);
    grads.set(v, prev ? g.add(prev, d) : d);
  };
  accumulate(loss, seed ?? (loss.rank === 0 ? g.scalar(1, loss.dtype) : g.constantOfShape(g.shapeOf(loss), 1, loss.dtype, loss.shape)));

  const done = new Set<CustomRegion>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const node = g.nodes[i]!;
    // Nodes after the loss (e.g. gradient ops of an earlier grad call) cannot contribute.
    if (!loss.producer || node.index > loss.producer.index) continue;
    const region = tagOf(node);
    if (region) {
      if (done.has(region)) continue;
      done.add(region);
      const dOut = region.outputs.map((o) => grads.get(o) ?? null);
      if (dOut.every((d) => d === null)) continue;
      const needs = region.inputs.map((v) => depends.has(v));
      const dIn = region.rule(g, dOut, needs);
      region.inputs.forEach((v, k) => {
        const d = dIn[k];
        if (needs[k] && d) accumulate(v, d);
      });
      continue;
    }
    const dOut = node.outputs.map((o) => grads.get(o) ?? null);
    if (dOut.every((d) => d === null)) continue;
    const needs = node.inputs.map((v) => v !== null && depends.has(v));
    if (!needs.some(Boolean)) continue;
    const rule: GradRule | undefined = RULES[node.opType];
    if (!rule || node.domain !== '') {
      throw new GraphError(`grad: no gradient rule for ${node.domain ? node.domain + '.' : ''}${node.opType}`);
    }
    const dIn = rule(g, node, dOut, needs);
    node.inputs.forEach((v, k) => {
      const d = dIn[k];
      if (v && needs[k] && d) accumulate(v, d);
    });
  }
  return wrt.map((w) => grads.get(w) ?? g.zerosLike(w));
}
