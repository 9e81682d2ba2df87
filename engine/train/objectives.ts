// Objectives (see objective.ts) backed by onnxruntime sessions of engine/model/train-graphs (E1's SFT,
// Bradley–Terry, DPO and log-prob graphs; same batch conventions as data.ts + batchFeeds below).

import type { Device } from '../api';
import type { Weights } from '../hf/checkpoint';
import type { LlamaConfig } from '../hf/config';
import type { DpoParams } from '../losses/dpo';
import { createSession, type ort, tensor } from '../onnx/session';
import { type Example, type PairExample, type SequenceBatch, type SharedPromptBatch, collate, collatePairs, collateSharedPrompt } from './data';
import { GRAD_PREFIX, GRAD_SQUARES, buildDpoTrainGraph, buildLogProbGraph, buildRewardTrainGraph, buildSftTrainGraph, gradName } from '../model/train-graphs';
import type { MicroBatchResult, Objective } from './objective';

export interface SessionChoice {
  device?: Device;
  threads?: number;
}

/**
 * A lazily created session of one graph (engine/model/train-graphs), fed weights by name. Gradient outputs
 * (`grad.<weight>`) are written into buffers allocated once and reused by every run: the gradients a run
 * returns are valid until the next run of the same runner.
 */
class GraphRunner {
  private session: ort.InferenceSession | null = null;
  private readonly gradBuffers = new Map<string, ort.Tensor>();
  constructor(
    private readonly build: () => { toBytes(): Uint8Array },
    private readonly opts: SessionChoice,
  ) {}

  async run(weights: Weights, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
    if (!this.session) {
      this.session = await createSession(this.build().toBytes(), { threads: this.opts.threads ?? 1, device: this.opts.device ?? 'cpu', optimization: 'all' });
    }
    const all: Record<string, ort.Tensor> = { ...feeds };
    for (const name of this.session.inputNames) {
      if (name in all) continue;
      const w = weights.get(name);
      if (!w) throw new Error(`training graph input "${name}" has no weight or feed`);
      all[name] = tensor('float32', w.data, w.shape);
    }
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of this.session.outputNames) fetches[name] = name.startsWith(GRAD_PREFIX) ? this.gradBuffer(name, weights) : null;
    // ORT writes the gradients into our buffers; hand those buffers out.
    return { ...(await this.session.run(all, fetches)), ...Object.fromEntries(this.gradBuffers) };
  }

  private gradBuffer(name: string, weights: Weights): ort.Tensor {
    let t = this.gradBuffers.get(name);
    if (!t) {
      const w = weights.get(name.slice(GRAD_PREFIX.length));
      if (!w) throw new Error(`training graph output "${name}" names no weight`);
      t = tensor('float32', new Float32Array(w.data.length), w.shape);
      this.gradBuffers.set(name, t);
    }
    return t;
  }

  async release(): Promise<void> {
    await this.session?.release();
    this.session = null;
    this.gradBuffers.clear();
  }
}

/** input_ids / attention_mask / position_ids / targets / loss_mask feeds of a right-padded batch. */
export function batchFeeds(b: SequenceBatch, padTokenId: number): Record<string, ort.Tensor> {
  const { batch: B, length: T } = b;
  const targets = new BigInt64Array(B * T).fill(BigInt(padTokenId));
  const lossMask = new Float32Array(B * T);
  for (let r = 0; r < B; r++) {
    for (let t = 0; t + 1 < T; t++) {
      targets[r * T + t] = b.inputIds[r * T + t + 1]!;
      lossMask[r * T + t] = b.responseMask[r * T + t + 1]!;
    }
  }
  return {
    input_ids: tensor('int64', b.inputIds, [B, T]),
    attention_mask: tensor('int64', b.attentionMask, [B, T]),
    position_ids: tensor('int64', b.positionIds, [B, T]),
    targets: tensor('int64', targets, [B, T]),
    loss_mask: tensor('float32', lossMask, [B, T]),
  };
}

/** The first `keep` of `width` columns of a row-major [rows, width] array. */
function leftColumns<A extends BigInt64Array | Float32Array>(src: A, rows: number, width: number, keep: number): A {
  if (keep === width) return src;
  const out = src.slice() as A;
  for (let r = 1; r < rows; r++) out.copyWithin(r * keep, r * width, r * width + keep);
  return out.slice(0, rows * keep) as A;
}

/**
 * Feeds of the shared-prompt pair graph (collateSharedPrompt): prefix inputs, continuation inputs, targets.
 * The continuations' last column is left out: no position predicts a token after it and no earlier position
 * attends to it, so the log-probs are the same without it (one position per row less to compute).
 */
export function sharedPromptFeeds(b: SharedPromptBatch, padTokenId: number): Record<string, ort.Tensor> {
  const P = b.pairs;
  const Tp = b.prefixLength;
  const c = b.continuation;
  const full = batchFeeds(c, padTokenId);
  const B = c.batch;
  const Tc = c.length;
  const T = Tc > 1 ? Tc - 1 : Tc;
  return {
    input_ids: tensor('int64', leftColumns(c.inputIds, B, Tc, T), [B, T]),
    position_ids: tensor('int64', leftColumns(c.positionIds, B, Tc, T), [B, T]),
    targets: tensor('int64', leftColumns(full['targets']!.data as BigInt64Array, B, Tc, T), [B, T]),
    loss_mask: tensor('float32', leftColumns(full['loss_mask']!.data as Float32Array, B, Tc, T), [B, T]),
    attention_mask: tensor('int64', leftColumns(b.attentionMask, B, Tp + Tc, Tp + T), [B, Tp + T]),
    prefix_ids: tensor('int64', b.prefixIds, [P, Tp]),
    prefix_attention_mask: tensor('int64', b.prefixMask, [P, Tp]),
    prefix_position_ids: tensor('int64', b.prefixPositions, [P, Tp]),
  };
}

function readGrads(out: ort.InferenceSession.ReturnType, weights: Weights): Map<string, Float32Array> {
  const grads = new Map<string, Float32Array>();
  for (const name of weights.keys()) {
    const t = out[gradName(name)];
    if (!t) throw new Error(`training graph has no gradient output for "${name}"`);
    grads.set(name, t.data as Float32Array);
  }
  return grads;
}

const scalar = (out: ort.InferenceSession.ReturnType, name: string): number => Number((out[name]!.data as Float32Array)[0]);

/** Σ over the per-gradient Σ g² the graph outputs (summed in float64), or undefined without that output. */
function gradSquaredNorm(out: ort.InferenceSession.ReturnType): number | undefined {
  const t = out[GRAD_SQUARES];
  if (!t) return undefined;
  let s = 0;
  for (const x of t.data as Float32Array) s += x;
  return s;
}

export function responseTokenCount(e: Example): number {
  return e.responseIds.length;
}

/** SFT: mean token cross-entropy over response tokens. */
export function sftObjective(cfg: LlamaConfig, opts: SessionChoice = {}): Objective<Example> {
  const pad = cfg.padTokenId ?? cfg.eosTokenIds[0] ?? 0;
  const runner = new GraphRunner(() => buildSftTrainGraph(cfg), opts);
  return {
    units: (items) => items.reduce((s, e) => s + responseTokenCount(e), 0),
    async run(weights, items): Promise<MicroBatchResult> {
      const out = await runner.run(weights, batchFeeds(collate(items, pad), pad));
      return { loss: scalar(out, 'loss'), grads: readGrads(out, weights), gradSquaredNorm: gradSquaredNorm(out) };
    },
    release: () => runner.release(),
  };
}

/** Bradley–Terry reward model; sums: accuracy (r_c > r_r), margin (r_c − r_r). */
export function rewardObjective(cfg: LlamaConfig, opts: SessionChoice = {}): Objective<PairExample> {
  const pad = cfg.padTokenId ?? cfg.eosTokenIds[0] ?? 0;
  const runner = new GraphRunner(() => buildRewardTrainGraph(cfg), opts);
  return {
    units: (items) => items.length,
    async run(weights, items): Promise<MicroBatchResult> {
      const P = items.length;
      const out = await runner.run(weights, batchFeeds(collatePairs(items, pad), pad));
      const c = out['chosen_rewards']!.data as Float32Array;
      const r = out['rejected_rewards']!.data as Float32Array;
      let accuracy = 0;
      let margin = 0;
      for (let i = 0; i < P; i++) {
        accuracy += c[i]! > r[i]! ? 1 : 0;
        margin += c[i]! - r[i]!;
      }
      return { loss: scalar(out, 'loss'), grads: readGrads(out, weights), gradSquaredNorm: gradSquaredNorm(out), sums: { accuracy, margin } };
    },
    release: () => runner.release(),
  };
}

/** A DPO item: the pair and the reference log-probs of its chosen and rejected responses (sums). */
export interface DpoItem {
  pair: PairExample;
  refChosen: number;
  refRejected: number;
}

/**
 * DPO (sigmoid / IPO, label smoothing, RPO); sums: reward accuracy, margin, chosen/rejected rewards. Each
 * pair's prompt runs once (the shared-prompt graph).
 */
export function dpoObjective(cfg: LlamaConfig, params: DpoParams, opts: SessionChoice = {}): Objective<DpoItem> {
  const pad = cfg.padTokenId ?? cfg.eosTokenIds[0] ?? 0;
  const runner = new GraphRunner(() => buildDpoTrainGraph(cfg, params, { sharedPrompt: true }), opts);
  return {
    units: (items) => items.length,
    async run(weights, items): Promise<MicroBatchResult> {
      const P = items.length;
      const out = await runner.run(weights, {
        ...sharedPromptFeeds(collateSharedPrompt(items.map((i) => i.pair), pad), pad),
        ref_chosen_logps: tensor('float32', items.map((it) => it.refChosen), [P]),
        ref_rejected_logps: tensor('float32', items.map((it) => it.refRejected), [P]),
      });
      const c = out['chosen_rewards']!.data as Float32Array;
      const r = out['rejected_rewards']!.data as Float32Array;
      const sums = { reward_accuracy: 0, reward_margin: 0, chosen_reward: 0, rejected_reward: 0 };
      for (let i = 0; i < P; i++) {
        sums.reward_accuracy += c[i]! > r[i]! ? 1 : 0;
        sums.reward_margin += c[i]! - r[i]!;
        sums.chosen_reward += c[i]!;
        sums.rejected_reward += r[i]!;
      }
      return { loss: scalar(out, 'loss'), grads: readGrads(out, weights), gradSquaredNorm: gradSquaredNorm(out), sums };
    },
    release: () => runner.release(),
  };
}

/** Summed response log-probs of many examples, in batches of `batchSize` (forward only). */
export async function sequenceLogps(
  cfg: LlamaConfig,
  weights: Weights,
  examples: Example[],
  opts: SessionChoice & { batchSize?: number; /** After each batch, with the sequences done so far. */ between?: (done: number) => Promise<void> } = {},
): Promise<Float64Array> {
  const pad = cfg.padTokenId ?? cfg.eosTokenIds[0] ?? 0;
  const runner = new GraphRunner(() => buildLogProbGraph(cfg).graph, opts);
  const out = new Float64Array(examples.length);
  const bs = Math.max(1, opts.batchSize ?? 8);
  try {
    for (let s = 0; s < examples.length; s += bs) {
      const chunk = examples.slice(s, s + bs);
      const r = await runner.run(weights, batchFeeds(collate(chunk, pad), pad));
      const lp = r['logps']!.data as Float32Array;
      chunk.forEach((_, i) => (out[s + i] = lp[i]!));
      await opts.between?.(s + chunk.length);
    }
  } finally {
    await runner.release();
  }
  return out;
}
