// Training and log-prob graphs: the Llama forward + a loss + the reverse pass, as one ONNX graph that an
// inference session runs (onnxruntime-node has no training API). Weights are graph inputs named as in HF;
// gradients are outputs named `grad.<weight name>`.
//
// Batch conventions (all int64 [rows, T], right or left padded):
//   input_ids, attention_mask, position_ids — as in HF;
//   targets   [rows, T] int64 — the next token at each position (input_ids shifted left; any valid id where
//             loss_mask is 0, e.g. the pad id);
//   loss_mask [rows, T] float — 1 where targets[b, t] is a response token to score/train on, else 0.
// Pair graphs (reward model, DPO) take 2·P rows: rows 0…P−1 are the chosen responses, P…2P−1 the rejected
// ones, pair i = (row i, row P+i).

import { grad } from '../autodiff/grad';
import type { LlamaConfig } from '../hf/config';
import { EngineInputError } from '../hf/errors';
import { bradleyTerryLoss } from '../losses/bradley-terry';
import type { DpoParams } from '../losses/dpo';
import { dpoLoss } from '../losses/dpo';
import { tokenLogProbs } from '../losses/token-logprobs';
import type { FloatDType, Value } from '../onnx/graph';
import { Graph } from '../onnx/graph';
import type { LlamaModel, LlamaOptions } from './llama';
import { buildLlama, DIMS } from './llama';

export const GRAD_PREFIX = 'grad.';
/** Output [trainable weights]: Σ g² of each gradient, in trainableNames order (the clipping norm's terms). */
export const GRAD_SQUARES = 'grad_squares';

/** Output name of a weight's gradient. */
export function gradName(weight: string): string {
  return `${GRAD_PREFIX}${weight}`;
}

export interface TrainGraphOptions {
  /** Default 'float32'; 'float64' for finite-difference checks. */
  dtype?: FloatDType;
  /**
   * Pair graphs (DPO): run each pair's prompt once instead of once per response (sharedPromptModel; batch
   * from collateSharedPrompt in engine/train/data). Default false.
   */
  sharedPrompt?: boolean;
  /** Which weights get gradients (default: all). The others stay graph inputs. */
  trainable?: (name: string) => boolean;
}

export interface TrainGraph {
  graph: Graph;
  model: LlamaModel;
  /** Every weight input, in llamaWeightSpecs order. */
  weightNames: string[];
  /** Weights with a `grad.<name>` output. */
  trainableNames: string[];
  /** Names of the non-gradient outputs (loss and metrics). */
  metricNames: string[];
  /** The encoded ModelProto. */
  toBytes(): Uint8Array;
}

interface BatchInputs {
  targets: Value;
  lossMask: Value;
}

function batchInputs(g: Graph): BatchInputs {
  return {
    targets: g.input('targets', 'int64', [DIMS.batch, DIMS.seq]),
    lossMask: g.input('loss_mask', g.dtype, [DIMS.batch, DIMS.seq]),
  };
}

function finish(g: Graph, model: LlamaModel, loss: Value, metrics: Record<string, Value>, opts: TrainGraphOptions): TrainGraph {
  const weightNames = [...model.weights.keys()];
  const trainableNames = weightNames.filter((n) => opts.trainable?.(n) ?? true);
  const grads = grad(
    g,
    loss,
    trainableNames.map((n) => model.weights.get(n)!),
  );
  g.output('loss', loss);
  for (const [name, v] of Object.entries(metrics)) g.output(name, v);
  trainableNames.forEach((n, i) => g.output(gradName(n), grads[i]!));
  // Summed while each gradient is still in cache: the trainer's global norm without another pass over them.
  const squares = grads.map((d) => g.unsqueeze(g.node('ReduceSumSquare', [d], { keepdims: 0 }, [{ dtype: d.dtype, shape: [] }])[0]!, [0]));
  g.output(GRAD_SQUARES, g.concat(squares, 0));
  return {
    graph: g,
    model,
    weightNames,
    trainableNames,
    metricNames: ['loss', ...Object.keys(metrics)],
    toBytes: () => g.toBytes(),
  };
}

function causalModel(cfg: LlamaConfig, g: Graph, what: string): LlamaModel {
  if (cfg.architecture !== 'LlamaForCausalLM') {
    throw new EngineInputError(`${what}: needs a LlamaForCausalLM model, got ${cfg.architecture}`);
  }
  return buildLlama(g, cfg, { head: 'lm', logits: 'all' });
}

/**
 * The causal LM over a pair batch with each prompt run once. Inputs `prefix_ids`, `prefix_attention_mask`,
 * `prefix_position_ids` [P, Tp]: each pair's prompt without its last token (left-padded); `input_ids`,
 * `position_ids` [2P, Tc]: the continuations (the prompt's last token, then the chosen response for rows
 * 0…P−1 and the rejected one for rows P…2P−1); `attention_mask` [2P, Tp + Tc]: prefix then continuation.
 * The prefix runs through the decoder alone (causal within the prompt); its keys/values at every layer are
 * the continuations' KV cache — the same per-row as in the concatenated forward (rows i and P+i share pair i's
 * prefix), so logits of the continuation are the concatenated forward's logits from the last prompt position
 * on. Gradients of the shared keys/values sum over both responses. The prefix's last-layer queries, MLP and
 * final norm feed nothing and are dropped from the graph.
 */
function sharedPromptModel(cfg: LlamaConfig, g: Graph): LlamaModel {
  if (cfg.architecture !== 'LlamaForCausalLM') {
    throw new EngineInputError(`shared-prompt graph: needs a LlamaForCausalLM model, got ${cfg.architecture}`);
  }
  const pairs = 'pairs';
  const prefixLen = 'prefix';
  const prefix = buildLlama(g, cfg, {
    head: 'lm',
    logits: 'none',
    dims: { batch: pairs, seq: prefixLen },
    tokens: {
      inputIds: g.input('prefix_ids', 'int64', [pairs, prefixLen]),
      attentionMask: g.input('prefix_attention_mask', 'int64', [pairs, prefixLen]),
      positionIds: g.input('prefix_position_ids', 'int64', [pairs, prefixLen]),
    },
  });
  // Row r of the continuations attends to pair r mod P's prefix: the prefix K/V stacked twice along the batch.
  const cacheShape = [DIMS.batch, cfg.numKeyValueHeads, DIMS.past, cfg.headDim];
  const bothRows = (x: Value): Value => g.node('Identity', [g.concat([x, x], 0)], {}, [{ dtype: g.dtype, shape: cacheShape }])[0]!;
  return buildLlama(g, cfg, {
    head: 'lm',
    logits: 'all',
    kvCache: { present: 'new' },
    joinedKv: true,
    pastValues: prefix.presentNew.map(({ key, value }) => ({ key: bothRows(key), value: bothRows(value) })),
    weightValues: prefix.weights,
  });
}

/** Masked per-token log-probs [rows, T] and their row sums / counts [rows]. */
function responseLogps(g: Graph, model: LlamaModel, b: BatchInputs): { sums: Value; counts: Value } {
  const tok = g.mul(tokenLogProbs(g, model.logits!, b.targets), b.lossMask);
  return { sums: g.reduceSum(tok, [1], false), counts: g.reduceSum(b.lossMask, [1], false) };
}

/**
 * SFT: loss = mean token NLL over the response tokens of the batch.
 * Inputs: input_ids, attention_mask, position_ids, targets, loss_mask, weights.
 * Outputs: `loss` [], `tokens` [] (number of response tokens), `grad.<name>` per trainable weight.
 * For gradient accumulation weighted by tokens, scale each micro-batch's gradients by tokens / Σ tokens.
 */
export function buildSftTrainGraph(cfg: LlamaConfig, opts: TrainGraphOptions = {}): TrainGraph {
  const g = new Graph(opts.dtype ?? 'float32', 'sft_train');
  const model = causalModel(cfg, g, 'SFT graph');
  const b = batchInputs(g);
  const { sums, counts } = responseLogps(g, model, b);
  const tokens = g.reduceSum(counts, [0], false);
  const loss = g.neg(g.div(g.reduceSum(sums, [0], false), g.max(tokens, g.scalar(1))));
  return finish(g, model, loss, { tokens }, opts);
}

/**
 * Reward model (LlamaForSequenceClassification, num_labels = 1), Bradley–Terry loss
 * mean −log σ(r_c − r_r), rewards pooled at the last non-pad token.
 * Inputs: input_ids, attention_mask, position_ids [2P, T] (chosen rows then rejected rows), weights.
 * Outputs: `loss` [], `chosen_rewards` [P], `rejected_rewards` [P], `grad.<name>`.
 */
export function buildRewardTrainGraph(cfg: LlamaConfig, opts: TrainGraphOptions = {}): TrainGraph {
  if (cfg.architecture !== 'LlamaForSequenceClassification') {
    throw new EngineInputError(`reward graph: needs a LlamaForSequenceClassification model, got ${cfg.architecture}`);
  }
  if (cfg.numLabels !== 1) throw new EngineInputError(`reward graph: num_labels must be 1 for a Bradley–Terry reward model, got ${cfg.numLabels}`);
  const g = new Graph(opts.dtype ?? 'float32', 'rm_train');
  const model = buildLlama(g, cfg, { head: 'score' });
  const rewards = g.squeeze(model.rewards!, [1]); // [2P]
  const [chosen, rejected] = g.splitEqual(rewards, 0, 2) as [Value, Value];
  const loss = bradleyTerryLoss(g, chosen, rejected);
  return finish(g, model, loss, { chosen_rewards: chosen, rejected_rewards: rejected }, opts);
}

/**
 * DPO (TRL DPOTrainer semantics). Inputs: input_ids, attention_mask, position_ids, targets, loss_mask
 * [2P, T] (chosen rows then rejected rows), `ref_chosen_logps` and `ref_rejected_logps` [P] (summed
 * response-token log-probs of the reference model, from buildLogProbGraph), weights.
 * IPO uses per-token averages (TRL): both policy and reference sums are divided by the response lengths here.
 * rpo_alpha adds α · (mean token NLL of the chosen responses).
 * With opts.sharedPrompt the token inputs are those of sharedPromptModel (prefix_* [P, Tp]; input_ids,
 * position_ids, targets, loss_mask [2P, Tc]; attention_mask [2P, Tp + Tc]); the outputs are the same.
 * Outputs: `loss` [], `chosen_logps`, `rejected_logps` [P] (policy sums), `chosen_rewards`,
 * `rejected_rewards` [P] (β·(π − ref), on the log-probs the loss used), `grad.<name>`, `grad_squares`.
 */
export function buildDpoTrainGraph(cfg: LlamaConfig, params: DpoParams, opts: TrainGraphOptions = {}): TrainGraph {
  if (!(params.beta > 0)) throw new EngineInputError(`DPO graph: beta must be > 0, got ${params.beta}`);
  const g = new Graph(opts.dtype ?? 'float32', 'dpo_train');
  const model = opts.sharedPrompt ? sharedPromptModel(cfg, g) : causalModel(cfg, g, 'DPO graph');
  const b = batchInputs(g);
  const refChosenIn = g.input('ref_chosen_logps', g.dtype, ['pairs']);
  const refRejectedIn = g.input('ref_rejected_logps', g.dtype, ['pairs']);
  const { sums, counts } = responseLogps(g, model, b);
  const [cSum, rSum] = g.splitEqual(sums, 0, 2) as [Value, Value];
  const [cCount, rCount] = g.splitEqual(counts, 0, 2) as [Value, Value];
  let policyChosen = cSum;
  let policyRejected = rSum;
  let refChosen = refChosenIn;
  let refRejected = refRejectedIn;
  if (params.lossType === 'ipo') {
    const one = g.scalar(1);
    const cLen = g.max(cCount, one);
    const rLen = g.max(rCount, one);
    policyChosen = g.div(cSum, cLen);
    policyRejected = g.div(rSum, rLen);
    refChosen = g.div(refChosenIn, cLen);
    refRejected = g.div(refRejectedIn, rLen);
  }
  let chosenNll: Value | undefined;
  if (params.rpoAlpha !== 0) {
    chosenNll = g.neg(g.div(g.reduceSum(cSum, [0], false), g.max(g.reduceSum(cCount, [0], false), g.scalar(1))));
  }
  const out = dpoLoss(g, { policyChosen, policyRejected, refChosen, refRejected, ...(chosenNll ? { chosenNll } : {}) }, params);
  return finish(
    g,
    model,
    out.loss,
    {
      chosen_logps: cSum,
      rejected_logps: rSum,
      chosen_rewards: out.chosenRewards,
      rejected_rewards: out.rejectedRewards,
    },
    opts,
  );
}

export interface LogProbGraphOptions extends Pick<LlamaOptions, 'weightsAs' | 'weights'> {
  dtype?: FloatDType;
  /** Also output `token_logps` [B, T] (masked per-token log-probs). */
  tokenLogps?: boolean;
}

/**
 * Summed response-token log-probs per sequence (the DPO reference, PolicyModel.logProbs).
 * Inputs: input_ids, attention_mask, position_ids, targets, loss_mask [B, T] (+ weights unless baked in).
 * Outputs: `logps` [B] (Σ loss_mask · log p(targets)), optionally `token_logps` [B, T].
 */
export function buildLogProbGraph(cfg: LlamaConfig, opts: LogProbGraphOptions = {}): { graph: Graph; model: LlamaModel } {
  const g = new Graph(opts.dtype ?? 'float32', 'logprobs');
  if (cfg.architecture !== 'LlamaForCausalLM') {
    throw new EngineInputError(`log-prob graph: needs a LlamaForCausalLM model, got ${cfg.architecture}`);
  }
  const model = buildLlama(g, cfg, {
    head: 'lm',
    logits: 'all',
    ...(opts.weightsAs ? { weightsAs: opts.weightsAs } : {}),
    ...(opts.weights ? { weights: opts.weights } : {}),
  });
  const b = batchInputs(g);
  const tok = g.mul(tokenLogProbs(g, model.logits!, b.targets), b.lossMask);
  g.output('logps', g.reduceSum(tok, [1], false));
  if (opts.tokenLogps) g.output('token_logps', tok);
  return { graph: g, model };
}
