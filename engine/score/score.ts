// Scoring prompt+response pairs with a whole-sequence forward pass (no cache):
//   rewards  — LlamaForSequenceClassification's score at the last non-pad token (HF semantics);
//   logProbs — Σ log π(y_t | x, y_<t) over the response tokens of a causal LM (DPO reference, KL estimates).
// A pair is tokenized as renderPrompt(prompt) ++ encodeResponse(response) (eos appended), the same sequence the
// trainers use. Items are batched by length (fewer pad tokens); results come back in input order.

import * as ort from 'onnxruntime-node';
import type { RunControl, ScoreItem } from '../api';
import { EngineInputError, throwIfAborted } from '../errors';
import type { InferenceModel } from '../generate/inference-model';

export const DEFAULT_SCORE_BATCH = 8;

export interface ScoreOptions extends RunControl {
  batchSize?: number;
  /** Where pad tokens go in a batch; both give the same scores (tests check it). Default 'right'. */
  padding?: 'right' | 'left';
}

export interface TokenizedItem {
  ids: number[];
  /** Index in `ids` of the first response token. */
  responseStart: number;
}

/** Tokens of one item, truncated on the right to the model's max length (as HF tokenizers truncate). */
export function tokenizeItem(model: InferenceModel, item: ScoreItem, index: number): TokenizedItem {
  if (!item || (typeof item.prompt !== 'string' && !Array.isArray(item.prompt)) || typeof item.response !== 'string') {
    throw new EngineInputError(`item ${index}: expected {prompt: string | chat messages, response: string}`);
  }
  const prompt = model.tokenizer.renderPrompt(item.prompt);
  if (prompt.length >= model.maxLength) {
    throw new EngineInputError(
      `item ${index}: the prompt has ${prompt.length} tokens; ${model.dir} has max_position_embeddings ${model.maxLength}, which leaves no room for the response`,
    );
  }
  const ids = [...prompt, ...model.tokenizer.encodeResponse(item.response)].slice(0, model.maxLength);
  return { ids, responseStart: prompt.length };
}

function batchSizeOf(opts: ScoreOptions): number {
  const b = opts.batchSize ?? DEFAULT_SCORE_BATCH;
  if (!Number.isInteger(b) || b < 1) throw new EngineInputError(`score: option batchSize must be a positive integer, got ${b}`);
  return b;
}

/** Runs `fn` over batches of items sorted by length; returns per-item values in input order. */
async function inBatches(
  items: TokenizedItem[],
  opts: ScoreOptions,
  fn: (batch: TokenizedItem[]) => Promise<number[]>,
): Promise<number[]> {
  const size = batchSizeOf(opts);
  const order = items.map((_, i) => i).sort((a, b) => items[a]!.ids.length - items[b]!.ids.length || a - b);
  const out = new Array<number>(items.length);
  for (let s = 0; s < order.length; s += size) {
    throwIfAborted(opts.signal);
    const idx = order.slice(s, s + size);
    const values = await fn(idx.map((i) => items[i]!));
    idx.forEach((i, k) => (out[i] = values[k]!));
    opts.onProgress?.({ done: Math.min(s + size, order.length), total: order.length });
  }
  return out;
}

/** input_ids / attention_mask / position_ids of a padded batch. */
export function padBatch(
  batch: number[][],
  pad: number,
  side: 'right' | 'left',
): { B: number; T: number; feeds: Record<string, ort.Tensor>; offsets: number[] } {
  const B = batch.length;
  const T = Math.max(...batch.map((x) => x.length));
  const ids = new BigInt64Array(B * T).fill(BigInt(pad));
  const mask = new BigInt64Array(B * T);
  const pos = new BigInt64Array(B * T);
  const offsets: number[] = [];
  batch.forEach((seq, b) => {
    const off = side === 'left' ? T - seq.length : 0;
    offsets.push(off);
    seq.forEach((t, k) => {
      ids[b * T + off + k] = BigInt(t);
      mask[b * T + off + k] = 1n;
      pos[b * T + off + k] = BigInt(k);
    });
  });
  return {
    B,
    T,
    offsets,
    feeds: {
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      attention_mask: new ort.Tensor('int64', mask, [B, T]),
      position_ids: new ort.Tensor('int64', pos, [B, T]),
    },
  };
}

function padId(model: InferenceModel): number {
  return model.tokenizer.padTokenId ?? model.config.padTokenId ?? 0;
}

/** Reward of each item (the first score label) at its last non-pad token. */
export async function scoreRewards(model: InferenceModel, items: ScoreItem[], opts: ScoreOptions = {}): Promise<number[]> {
  const tokenized = items.map((it, i) => tokenizeItem(model, it, i));
  const session = await model.session('reward');
  const labels = model.config.numLabels;
  return inBatches(tokenized, opts, async (batch) => {
    const { B, feeds } = padBatch(
      batch.map((x) => x.ids),
      padId(model),
      opts.padding ?? 'right',
    );
    const out = await session.run(feeds);
    const r = out['rewards']!.data as Float32Array;
    return Array.from({ length: B }, (_, b) => r[b * labels]!);
  });
}

/** Σ log p(response tokens | prompt) of each item under the model (temperature 1). */
export async function sequenceLogProbs(model: InferenceModel, items: ScoreItem[], opts: ScoreOptions = {}): Promise<number[]> {
  const tokenized = items.map((it, i) => tokenizeItem(model, it, i));
  const session = await model.session('logprobs');
  return inBatches(tokenized, opts, async (batch) => {
    const side = opts.padding ?? 'right';
    const { B, T, feeds, offsets } = padBatch(
      batch.map((x) => x.ids),
      padId(model),
      side,
    );
    // labels[b, t] = the token at t+1: token_logprobs[b, t] = log p(x_{t+1} | x_≤t).
    const labels = new BigInt64Array(B * T);
    batch.forEach((x, b) => {
      for (let k = 0; k + 1 < x.ids.length; k++) labels[b * T + offsets[b]! + k] = BigInt(x.ids[k + 1]!);
    });
    feeds['labels'] = new ort.Tensor('int64', labels, [B, T]);
    const out = await session.run(feeds);
    const lp = out['token_logprobs']!.data as Float32Array;
    return batch.map((x, b) => {
      let s = 0;
      // Response token k (k ≥ responseStart) is predicted at position k − 1.
      for (let k = x.responseStart; k < x.ids.length; k++) s += lp[b * T + offsets[b]! + k - 1]!;
      return s;
    });
  });
}
