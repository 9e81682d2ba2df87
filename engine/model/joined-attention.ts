// Attention over a KV cache [past | new] in training graphs (the shared-prompt DPO graph), with the products
// arranged so that the big score/probability tensors are not concatenated or split more than needed, and with
// exactly the float32 results of the plain form (scores against past and new keys joined with a Concat, values
// as P_past·V_past + P_new·V_new). Every product below whose output elements are dot products over the same
// terms in the same order as in the plain form is taken over the joined keys/values instead:
//
//   scores  S = q·[K_past | K_new]ᵀ        each score is a dot over head_dim: as the two separate products
//   dK      [dK_past | dK_new] = dSᵀ·q     each element sums over the query rows: as the two separate products
//   dP      dO·[V_past | V_new]ᵀ           dots over head_dim
//   dV      [dV_past | dV_new] = Pᵀ·dO      sums over the query rows
//
// Only the two products that sum over the key axis keep their split form, because one product over the
// joined keys would sum past and new terms in one chain (different rounding):
//
//   values  O  = P_past·V_past + P_new·V_new
//   dq      dq = dS_past·K_past + dS_new·K_new
//
// The joined K and V ([B, kvHeads, P+T, headDim]) are small next to the scores ([B, kvHeads, G·T, P+T]): the
// plain form's Concat of the scores and its reverse-pass Concat of dP are gone, and four pairs of small products
// become four single products.

import { customGrad } from '../autodiff/grad';
import type { Dim, Graph, Value } from '../onnx/graph';

/** Last two axes swapped (rank 4). */
const T4 = [0, 1, 3, 2];

/** Splits x along `axis` into its [past, new] parts (sizes: int64 [2] = [P, T]). */
function splitPastNew(g: Graph, x: Value, axis: number, sizes: Value, past: Dim, fresh: Dim): [Value, Value] {
  const shape = (d: Dim) => x.shape.map((s, i) => (i === axis ? d : s));
  return g.node('Split', [x, sizes], { axis }, [
    { dtype: x.dtype, shape: shape(past) },
    { dtype: x.dtype, shape: shape(fresh) },
  ]) as [Value, Value];
}

/**
 * xᵀ over the last two axes of a rank-4 x [a, b, m, n] as a tensor of its own: the Transpose runs on the
 * [a·b, m, n] view and its result is reshaped back, so ORT's MatMul–Transpose fusion (last-two-axes
 * transposes only) leaves it a plain operand.
 */
function materializedTranspose(g: Graph, x: Value): Value {
  const [a, b, m, n] = x.shape as [Dim, Dim, Dim, Dim];
  const flat = g.node('Reshape', [x, g.concat([g.ints([-1]), g.shapeOf(x, 2, 4)], 0)], {}, [{ dtype: x.dtype, shape: [`${a}*${b}`, m, n] }])[0]!;
  const t = g.transpose(flat, [0, 2, 1]);
  return g.node('Reshape', [t, g.concat([g.shapeOf(x, 0, 2), g.shapeOf(x, 3, 4), g.shapeOf(x, 2, 3)], 0)], {}, [{ dtype: x.dtype, shape: [a, b, n, m] }])[0]!;
}

export interface PastNewSizes {
  /** int64 [2]: the past and new lengths (P, T). */
  sizes: Value;
  past: Dim;
  fresh: Dim;
  total: Dim;
}

/**
 * Scores q·[kPast | kNew]ᵀ [B, kvH, R, P+T] for queries q [B, kvH, R, hd] and keys kPast [B, kvH, P, hd],
 * kNew [B, kvH, T, hd], with the reverse pass described in the header.
 */
export function joinedScores(g: Graph, q: Value, kPast: Value, kNew: Value, s: PastNewSizes): Value {
  let keys: Value | undefined;
  const [scores] = customGrad(
    g,
    [q, kPast, kNew],
    () => {
      keys = g.concat([kPast, kNew], 2);
      return [g.matmul(q, g.transpose(keys, T4))];
    },
    (gg, [dS], needs) => {
      let dq: Value | null = null;
      if (needs[0]) {
        const [dPast, dNew] = splitPastNew(gg, dS!, 3, s.sizes, s.past, s.fresh);
        dq = gg.add(gg.matmul(dNew, kNew), gg.matmul(dPast, kPast));
      }
      let dkPast: Value | null = null;
      let dkNew: Value | null = null;
      if (needs[1] || needs[2]) {
        const dKeys = gg.transpose(gg.matmul(gg.transpose(q, T4), dS!), T4); // [B, kvH, P+T, hd]
        [dkPast, dkNew] = splitPastNew(gg, dKeys, 2, s.sizes, s.past, s.fresh);
      }
      return [dq, needs[1] ? dkPast : null, needs[2] ? dkNew : null];
    },
  );
  return scores!;
}

/**
 * P_past·vPast + P_new·vNew [B, kvH, R, hd] for probabilities p [B, kvH, R, P+T] over [past | new] keys and
 * values vPast [B, kvH, P, hd], vNew [B, kvH, T, hd], with the reverse pass described in the header.
 */
export function joinedValues(g: Graph, p: Value, vPast: Value, vNew: Value, s: PastNewSizes): Value {
  const [out] = customGrad(
    g,
    [p, vPast, vNew],
    () => {
      const [pPast, pNew] = splitPastNew(g, p, 3, s.sizes, s.past, s.fresh);
      return [g.add(g.matmul(pPast, vPast), g.matmul(pNew, vNew))];
    },
    (gg, [dO], needs) => {
      const dp = needs[0] ? gg.matmul(dO!, gg.transpose(gg.concat([vPast, vNew], 2), T4)) : null;
      let dvPast: Value | null = null;
      let dvNew: Value | null = null;
      if (needs[1] || needs[2]) {
        // As (dOᵀ·P)ᵀ with dOᵀ materialized (a small copy next to P; the plain product beats Pᵀ·dO with a
        // transposed P, which ORT would otherwise fuse into a transposed-operand MatMul).
        const dValuesT = gg.matmul(materializedTranspose(gg, dO!), p); // [B, kvH, hd, P+T]
        [dvPast, dvNew] = splitPastNew(gg, gg.transpose(dValuesT, T4), 2, s.sizes, s.past, s.fresh);
      }
      return [dp, needs[1] ? dvPast : null, needs[2] ? dvNew : null];
    },
  );
  return out!;
}
