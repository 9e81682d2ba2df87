// Supervised fine-tuning loss: token cross-entropy on response tokens.

import type { Graph, Value } from '../onnx/graph';
import { tokenLogProbs } from './token-logprobs';

/**
 * Sum over response tokens of log p(target): logits [B,T,V], targets [B,T] int64 (the next token at each
 * position), lossMask [B,T] float (1 where targets[b,t] is a response token). Returns [B].
 */
export function sequenceLogProbs(g: Graph, logits: Value, targets: Value, lossMask: Value): Value {
  return g.reduceSum(g.mul(tokenLogProbs(g, logits, targets), lossMask), [1], false);
}

/**
 * Mean token NLL over the response tokens of the batch (HF CrossEntropyLoss with ignore_index, reduction
 * mean): −Σ mask·lp / max(Σ mask, 1). Returns { loss: scalar, tokens: Σ mask }.
 */
export function sftLoss(g: Graph, logits: Value, targets: Value, lossMask: Value): { loss: Value; tokens: Value } {
  const lp = tokenLogProbs(g, logits, targets);
  const total = g.reduceSum(g.mul(lp, lossMask), [0, 1], false);
  const tokens = g.reduceSum(lossMask, [0, 1], false);
  const loss = g.neg(g.div(total, g.max(tokens, g.scalar(1, tokens.dtype))));
  return { loss, tokens };
}
