// Training graphs: the Llama decoder (engine/model) + a loss (engine/losses) + its reverse pass
// (engine/autodiff), as one ONNX graph with outputs `loss`, statistics, and `grad.<weight name>` for every
// weight. Weights are graph inputs named as in HF, so one session serves every step.
//
// Common inputs: input_ids, attention_mask, position_ids [B, T] int64 (right padding), targets [B, T] int64
// (the next token at each position; pad at the last) and loss_mask [B, T] float (1 where targets[b, t] is a
// response token). Pair graphs take chosen rows 0…P−1 and rejected rows P…2P−1 (B = 2P) and
// chosen_index / rejected_index [P] int64 (= 0…P−1 and P…2P−1).

import { grad } from '../autodiff/grad';
import type { LlamaConfig } from '../hf/config';
import { bradleyTerryLoss } from '../losses/bradley-terry';
import { type DpoParams, dpoLoss } from '../losses/dpo';
import { sequenceLogProbs, sftLoss } from '../losses/sft';
import type { Graph, Value } from '../onnx/graph';
import { Graph as GraphClass } from '../onnx/graph';
import { DIMS, buildLlama, type LlamaModel } from '../model/llama';

export const GRAD_PREFIX = 'grad.';

function lossInputs(g: Graph): { targets: Value; lossMask: Value } {
  return {
    targets: g.input('targets', 'int64', [DIMS.batch, DIMS.seq]),
    lossMask: g.input('loss_mask', g.dtype, [DIMS.batch, DIMS.seq]),
  };
}

function pairIndexInputs(g: Graph): { chosen: Value; rejected: Value } {
  return { chosen: g.input('chosen_index', 'int64', ['pairs']), rejected: g.input('rejected_index', 'int64', ['pairs']) };
}

function outputGrads(g: Graph, m: LlamaModel, loss: Value): void {
  const names = [...m.weights.keys()];
  const grads = grad(g, loss, names.map((n) => m.weights.get(n)!));
  names.forEach((n, i) => g.output(`${GRAD_PREFIX}${n}`, grads[i]!));
}

/** SFT: `loss` = mean token NLL over loss_mask; `tokens`; grads. */
export function buildSftTrainGraph(cfg: LlamaConfig, dtype: 'float32' | 'float64' = 'float32'): Graph {
  const g = new GraphClass(dtype, 'sft_train');
  const m = buildLlama(g, { ...cfg, architecture: 'LlamaForCausalLM' }, { head: 'lm', logits: 'all' });
  const { targets, lossMask } = lossInputs(g);
  const { loss } = sftLoss(g, m.logits!, targets, lossMask);
  g.output('loss', loss);
  outputGrads(g, m, loss);
  return g;
}

/** Forward only: `logps` [B] = Σ loss_mask · log p(targets) (sequence log-probs of responses). */
export function buildSequenceLogpGraph(cfg: LlamaConfig, dtype: 'float32' | 'float64' = 'float32'): Graph {
  const g = new GraphClass(dtype, 'sequence_logps');
  const m = buildLlama(g, { ...cfg, architecture: 'LlamaForCausalLM' }, { head: 'lm', logits: 'all' });
  const { targets, lossMask } = lossInputs(g);
  g.output('logps', sequenceLogProbs(g, m.logits!, targets, lossMask));
  return g;
}

/** Bradley–Terry: `loss` = mean softplus(−(r_c − r_r)); `rewards` [B]; grads. */
export function buildRewardTrainGraph(cfg: LlamaConfig, dtype: 'float32' | 'float64' = 'float32'): Graph {
  const g = new GraphClass(dtype, 'reward_train');
  const m = buildLlama(g, { ...cfg, architecture: 'LlamaForSequenceClassification' }, { head: 'score' });
  const idx = pairIndexInputs(g);
  const r = g.reshape(g.slice(m.rewards!, [0], [1], [1]), [-1], [DIMS.batch]); // [B] (first label)
  const loss = bradleyTerryLoss(g, g.gather(r, idx.chosen, 0), g.gather(r, idx.rejected, 0));
  g.output('loss', loss);
  g.output('rewards', r);
  outputGrads(g, m, loss);
  return g;
}

/**
 * DPO: extra inputs ref_chosen / ref_rejected [P] (reference log-probs; per-token means for IPO, as TRL).
 * Outputs `loss`, `chosen_rewards`, `rejected_rewards` [P] (β·(π − ref)), `logps` [B], grads.
 */
export function buildDpoTrainGraph(cfg: LlamaConfig, p: DpoParams, dtype: 'float32' | 'float64' = 'float32'): Graph {
  const g = new GraphClass(dtype, 'dpo_train');
  const m = buildLlama(g, { ...cfg, architecture: 'LlamaForCausalLM' }, { head: 'lm', logits: 'all' });
  const { targets, lossMask } = lossInputs(g);
  const idx = pairIndexInputs(g);
  const refChosen = g.input('ref_chosen', dtype, ['pairs']);
  const refRejected = g.input('ref_rejected', dtype, ['pairs']);
  const sums = sequenceLogProbs(g, m.logits!, targets, lossMask); // [B]
  const counts = g.reduceSum(lossMask, [1], false); // [B]
  const used = p.lossType === 'ipo' ? g.div(sums, g.max(counts, g.scalar(1, dtype))) : sums;
  const policyChosen = g.gather(used, idx.chosen, 0);
  const policyRejected = g.gather(used, idx.rejected, 0);
  let chosenNll: Value | undefined;
  if (p.rpoAlpha !== 0) {
    const chosenSum = g.reduceSum(g.gather(sums, idx.chosen, 0), [0], false);
    const chosenTokens = g.reduceSum(g.gather(counts, idx.chosen, 0), [0], false);
    chosenNll = g.neg(g.div(chosenSum, g.max(chosenTokens, g.scalar(1, dtype))));
  }
  const out = dpoLoss(g, { policyChosen, policyRejected, refChosen, refRejected, ...(chosenNll ? { chosenNll } : {}) }, p);
  g.output('loss', out.loss);
  g.output('chosen_rewards', out.chosenRewards);
  g.output('rejected_rewards', out.rejectedRewards);
  g.output('logps', sums);
  outputGrads(g, m, out.loss);
  return g;
}
