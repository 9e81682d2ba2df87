// Direct Preference Optimization (Rafailov et al. 2023) as in TRL's DPOTrainer: sigmoid loss with label
// smoothing, IPO, and RPO's NLL term.

import type { Graph, Value } from '../onnx/graph';
import { softplus } from './softplus';

export interface DpoParams {
  beta: number;
  labelSmoothing: number;
  lossType: 'sigmoid' | 'ipo';
  /** Weight of the chosen-response NLL (RPO); 0: off. */
  rpoAlpha: number;
}

export interface DpoLogps {
  /** Policy log-probs of chosen / rejected responses [B] (sums, or means per token for IPO — see below). */
  policyChosen: Value;
  policyRejected: Value;
  refChosen: Value;
  refRejected: Value;
  /** Mean token NLL of the chosen responses over the batch (needed when rpoAlpha > 0). */
  chosenNll?: Value;
}

/**
 * logits = (πc − πr) − (rc − rr);
 * sigmoid: ℓ = (1−ε)·softplus(−β·logits) + ε·softplus(β·logits)   (= −(1−ε)logσ(βl) − ε·logσ(−βl));
 * ipo:     ℓ = (logits − 1/(2β))²  (TRL feeds IPO per-token-averaged log-probs);
 * loss = mean_b ℓ + rpo_alpha · chosenNll. Rewards: β(πc − rc), β(πr − rr).
 */
export function dpoLoss(
  g: Graph,
  lp: DpoLogps,
  p: DpoParams,
): { loss: Value; losses: Value; chosenRewards: Value; rejectedRewards: Value } {
  const dt = lp.policyChosen.dtype;
  const chosenDiff = g.sub(lp.policyChosen, lp.refChosen);
  const rejectedDiff = g.sub(lp.policyRejected, lp.refRejected);
  const logits = g.sub(chosenDiff, rejectedDiff);
  let losses: Value;
  if (p.lossType === 'ipo') {
    const u = g.sub(logits, g.scalar(1 / (2 * p.beta), dt));
    losses = g.mul(u, u);
  } else {
    const z = g.mul(logits, g.scalar(p.beta, dt));
    losses = softplus(g, g.neg(z));
    if (p.labelSmoothing !== 0) {
      losses = g.add(g.mul(losses, g.scalar(1 - p.labelSmoothing, dt)), g.mul(softplus(g, z), g.scalar(p.labelSmoothing, dt)));
    }
  }
  let loss = g.reduceMean(losses, [0], false);
  if (p.rpoAlpha !== 0) {
    if (!lp.chosenNll) throw new Error('dpoLoss: rpoAlpha > 0 needs chosenNll');
    loss = g.add(loss, g.mul(lp.chosenNll, g.scalar(p.rpoAlpha, dt)));
  }
  const beta = g.scalar(p.beta, dt);
  return { loss, losses, chosenRewards: g.mul(chosenDiff, beta), rejectedRewards: g.mul(rejectedDiff, beta) };
}
