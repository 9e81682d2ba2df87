// Per-token log-probabilities log p(targets | logits), with a fused backward.

import { customGrad } from '../autodiff/grad';
import type { Graph, Value } from '../onnx/graph';

/**
 * lp[b, t] = log_softmax(logits[b, t])[targets[b, t]] for logits [B, T, V] and targets [B, T] int64.
 * Backward (one region): dlogits = g ⊙ (onehot(t) − softmax(z)), built as
 * ScatterElements(−g·exp(log_softmax(z)), t, g, add) — three [B,T,V] passes instead of ~six.
 */
export function tokenLogProbs(g: Graph, logits: Value, targets: Value): Value {
  const idx = g.unsqueeze(targets, [-1]); // [B,T,1]
  let logp: Value | undefined;
  const [lp] = customGrad(
    g,
    [logits],
    () => {
      logp = g.logSoftmax(logits, -1);
      return [g.squeeze(g.gatherElements(logp, idx, -1), [-1])];
    },
    (gg, [dLp]) => {
      const d = gg.unsqueeze(dLp!, [-1]); // [B,T,1]
      const negSoftmax = gg.mul(gg.exp(logp!), gg.neg(d));
      return [gg.scatterElements(negSoftmax, idx, d, -1, 'add')];
    },
  );
  return lp!;
}
