// From rows (prompt + response, or prompt + chosen/rejected) to token sequences, and from sequences to
// right-padded micro-batches.
//
// Tokenization follows TRL: the prompt is rendered (chat template with generation prompt, or plain text with
// bos); each response is its text without special tokens followed by the tokenizer's eos token.
// Truncation (counted, never silent):
//   1. a prompt longer than maxPromptLength keeps its last maxPromptLength tokens (TRL truncation_mode keep_end);
//   2. a response that does not fit maxLength − |prompt| is cut at the end;
//   3. for reward-model pairs the sequence must fit whole (the reward is read at its last token): a pair
//      whose chosen or rejected sequence is longer than maxLength is dropped (TRL RewardTrainer filters them).

import type { PairRow, SftRow } from '../api';
import type { EngineTokenizer } from '../tokenizer/tokenizer';
import { EngineInputError } from '../hf/errors';

/** One sequence: prompt tokens then response tokens. */
export interface Example {
  promptIds: number[];
  responseIds: number[];
}

export interface PairExample {
  chosen: Example;
  rejected: Example;
}

export interface TruncationCounts {
  rows: number;
  kept: number;
  promptsTruncated: number;
  responsesTruncated: number;
  dropped: number;
}

export interface Limits {
  maxLength: number;
  maxPromptLength: number;
}

function checkLimits(l: Limits): void {
  if (!Number.isInteger(l.maxLength) || l.maxLength < 2) throw new EngineInputError(`hyper.maxLength must be an integer ≥ 2, got ${l.maxLength}`);
  if (!Number.isInteger(l.maxPromptLength) || l.maxPromptLength < 1 || l.maxPromptLength >= l.maxLength) {
    throw new EngineInputError(`hyper.maxPromptLength must be an integer in [1, maxLength), got ${l.maxPromptLength}`);
  }
}

function truncatePrompt(ids: number[], l: Limits, c: TruncationCounts): number[] {
  if (ids.length <= l.maxPromptLength) return ids;
  c.promptsTruncated++;
  return ids.slice(ids.length - l.maxPromptLength);
}

function fitResponse(promptIds: number[], responseIds: number[], l: Limits, c: { responsesTruncated: number }): number[] {
  const room = l.maxLength - promptIds.length;
  if (responseIds.length <= room) return responseIds;
  c.responsesTruncated++;
  return responseIds.slice(0, room);
}

/** SFT rows → examples (loss on response tokens). Rows with an empty response are an input error. */
export function tokenizeSftRows(tok: EngineTokenizer, rows: SftRow[], l: Limits): { examples: Example[]; counts: TruncationCounts } {
  checkLimits(l);
  const counts: TruncationCounts = { rows: rows.length, kept: 0, promptsTruncated: 0, responsesTruncated: 0, dropped: 0 };
  const examples: Example[] = [];
  rows.forEach((row, i) => {
    if (typeof row.response !== 'string') throw new EngineInputError(`rows[${i}].response must be a string`);
    const promptIds = truncatePrompt(tok.renderPrompt(row.prompt), l, counts);
    const responseIds = fitResponse(promptIds, tok.encodeResponse(row.response), l, counts);
    if (responseIds.length === 0) {
      counts.dropped++;
      return;
    }
    examples.push({ promptIds, responseIds });
  });
  counts.kept = examples.length;
  return { examples, counts };
}

/**
 * Preference pairs → examples. mode 'dpo' truncates (prompt, then responses); mode 'reward' drops pairs whose
 * chosen or rejected sequence does not fit whole (after prompt truncation).
 */
export function tokenizePairRows(
  tok: EngineTokenizer,
  rows: PairRow[],
  l: Limits,
  mode: 'dpo' | 'reward',
): { examples: PairExample[]; counts: TruncationCounts; rowIndex: number[] } {
  checkLimits(l);
  const counts: TruncationCounts = { rows: rows.length, kept: 0, promptsTruncated: 0, responsesTruncated: 0, dropped: 0 };
  const examples: PairExample[] = [];
  const rowIndex: number[] = [];
  rows.forEach((row, i) => {
    if (typeof row.chosen !== 'string' || typeof row.rejected !== 'string') {
      throw new EngineInputError(`rows[${i}]: "chosen" and "rejected" must be strings`);
    }
    const promptIds = truncatePrompt(tok.renderPrompt(row.prompt), l, counts);
    let c = tok.encodeResponse(row.chosen);
    let r = tok.encodeResponse(row.rejected);
    if (mode === 'reward') {
      if (promptIds.length + c.length > l.maxLength || promptIds.length + r.length > l.maxLength) {
        counts.dropped++;
        return;
      }
    } else {
      const cut = { responsesTruncated: 0 };
      c = fitResponse(promptIds, c, l, cut);
      r = fitResponse(promptIds, r, l, cut);
      if (cut.responsesTruncated > 0) counts.responsesTruncated++;
      if (c.length === 0 || r.length === 0) {
        counts.dropped++;
        return;
      }
    }
    examples.push({ chosen: { promptIds, responseIds: c }, rejected: { promptIds, responseIds: r } });
    rowIndex.push(i);
  });
  counts.kept = examples.length;
  return { examples, counts, rowIndex };
}

/**
 * A right-padded batch of sequences [B, T] as the training graphs take it.
 * `responseMask[b·T + t] = 1` where token t of row b is a response token (its log-prob, predicted from
 * position t − 1, counts); prompt and padding positions are 0. Positions are 0…T−1 (right padding).
 */
export interface SequenceBatch {
  batch: number;
  length: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  positionIds: BigInt64Array;
  responseMask: Float32Array;
  /** Response tokens per row. */
  responseTokens: number[];
}

/** Pads examples on the right with `padTokenId` into one batch. */
export function collate(examples: Example[], padTokenId: number): SequenceBatch {
  if (examples.length === 0) throw new Error('collate: empty batch');
  const B = examples.length;
  const T = Math.max(...examples.map((e) => e.promptIds.length + e.responseIds.length));
  const inputIds = new BigInt64Array(B * T).fill(BigInt(padTokenId));
  const attentionMask = new BigInt64Array(B * T);
  const positionIds = new BigInt64Array(B * T);
  const responseMask = new Float32Array(B * T);
  const responseTokens: number[] = [];
  examples.forEach((e, b) => {
    const ids = [...e.promptIds, ...e.responseIds];
    for (let t = 0; t < T; t++) positionIds[b * T + t] = BigInt(t);
    ids.forEach((id, t) => {
      inputIds[b * T + t] = BigInt(id);
      attentionMask[b * T + t] = 1n;
      if (t >= e.promptIds.length && t > 0) responseMask[b * T + t] = 1;
    });
    responseTokens.push(e.responseIds.length - (e.promptIds.length === 0 ? 1 : 0));
  });
  return { batch: B, length: T, inputIds, attentionMask, positionIds, responseMask, responseTokens };
}

/**
 * Pairs as one batch of 2B rows: chosen rows 0…B−1, rejected rows B…2B−1 (TRL's concatenated forward).
 */
export function collatePairs(pairs: PairExample[], padTokenId: number): SequenceBatch {
  return collate([...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)], padTokenId);
}

/**
 * Pairs with each prompt once (the shared-prompt DPO graph, engine/model/train-graphs): pair i's prompt minus
 * its last token is the prefix (row i of [P, Tp], left-padded), and its chosen and rejected continuations —
 * the prompt's last token then the response — are rows i and P+i of `continuation` [2P, Tc], right-padded,
 * at positions after the prefix. `attentionMask` [2P, Tp + Tc] is the row's pair's prefix mask followed by its
 * continuation mask. The continuation's responseMask marks the response tokens as in collate().
 */
export interface SharedPromptBatch {
  pairs: number;
  prefixLength: number;
  prefixIds: BigInt64Array;
  prefixMask: BigInt64Array;
  prefixPositions: BigInt64Array;
  continuation: SequenceBatch;
  attentionMask: BigInt64Array;
}

export function collateSharedPrompt(pairs: PairExample[], padTokenId: number): SharedPromptBatch {
  if (pairs.length === 0) throw new Error('collateSharedPrompt: empty batch');
  const P = pairs.length;
  pairs.forEach((p, i) => {
    const a = p.chosen.promptIds;
    const b = p.rejected.promptIds;
    if (a.length !== b.length || a.some((t, k) => t !== b[k])) throw new Error(`collateSharedPrompt: pair ${i} has different chosen and rejected prompts`);
  });
  const prefixLen = pairs.map((p) => Math.max(0, p.chosen.promptIds.length - 1));
  // At least one (masked) slot, so that no dimension is empty.
  const Tp = Math.max(1, ...prefixLen);
  const prefixIds = new BigInt64Array(P * Tp).fill(BigInt(padTokenId));
  const prefixMask = new BigInt64Array(P * Tp);
  const prefixPositions = new BigInt64Array(P * Tp);
  pairs.forEach((p, i) => {
    const off = Tp - prefixLen[i]!;
    for (let t = 0; t < prefixLen[i]!; t++) {
      prefixIds[i * Tp + off + t] = BigInt(p.chosen.promptIds[t]!);
      prefixMask[i * Tp + off + t] = 1n;
      prefixPositions[i * Tp + off + t] = BigInt(t);
    }
  });
  const rows = [...pairs.map((p, i) => ({ e: p.chosen, i })), ...pairs.map((p, i) => ({ e: p.rejected, i }))];
  const tails = rows.map(({ e }) => (e.promptIds.length > 0 ? [e.promptIds.at(-1)!, ...e.responseIds] : e.responseIds));
  const Tc = Math.max(...tails.map((t) => t.length));
  const B = 2 * P;
  const inputIds = new BigInt64Array(B * Tc).fill(BigInt(padTokenId));
  const contMask = new BigInt64Array(B * Tc);
  const positionIds = new BigInt64Array(B * Tc);
  const responseMask = new Float32Array(B * Tc);
  const attentionMask = new BigInt64Array(B * (Tp + Tc));
  const responseTokens: number[] = [];
  rows.forEach(({ e, i }, b) => {
    const ids = tails[b]!;
    for (let t = 0; t < Tc; t++) positionIds[b * Tc + t] = BigInt(prefixLen[i]! + t);
    ids.forEach((id, t) => {
      inputIds[b * Tc + t] = BigInt(id);
      contMask[b * Tc + t] = 1n;
      // Token t is a response token when the prompt's last token precedes it (t ≥ 1), as in collate().
      if (t > 0) responseMask[b * Tc + t] = 1;
    });
    for (let t = 0; t < Tp; t++) attentionMask[b * (Tp + Tc) + t] = prefixMask[i * Tp + t]!;
    for (let t = 0; t < Tc; t++) attentionMask[b * (Tp + Tc) + Tp + t] = contMask[b * Tc + t]!;
    responseTokens.push(e.responseIds.length - (e.promptIds.length === 0 ? 1 : 0));
  });
  return {
    pairs: P,
    prefixLength: Tp,
    prefixIds,
    prefixMask,
    prefixPositions,
    continuation: { batch: B, length: Tc, inputIds, attentionMask: contMask, positionIds, responseMask, responseTokens },
    attentionMask,
  };
}

/** Split `order` (one epoch's permutation) into optimizer steps of micro-batches. */
export function planEpoch(order: number[], batchSize: number, gradientAccumulation: number): number[][][] {
  const perStep = batchSize * gradientAccumulation;
  const steps: number[][][] = [];
  for (let s = 0; s < order.length; s += perStep) {
    const rows = order.slice(s, s + perStep);
    const micro: number[][] = [];
    for (let m = 0; m < rows.length; m += batchSize) micro.push(rows.slice(m, m + batchSize));
    steps.push(micro);
  }
  return steps;
}
