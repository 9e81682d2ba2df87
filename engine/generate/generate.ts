// Batched sampling from a causal LM with a KV cache: one prefill of the (left-padded) prompts, then one token
// per step for every unfinished row. Rows are (prompt i, sample j) pairs; row (i, j) draws its uniforms from
// rngFor(seed, promptIds[i], j), so its response does not depend on which other rows share its batch.

import * as ort from 'onnxruntime-node';
import type { GenerateOptions, Generation, Prompt } from '../api';
import { EngineInputError, throwIfAborted } from '../errors';
import { type Rng, rngFor } from '../rng';
import type { InferenceModel } from './inference-model';
import { KvCache } from './kv-cache';
import { type SamplingParams, chooseToken, logSumExp } from './sampling';

export const DEFAULT_GENERATE_BATCH = 16;
const PROGRESS_INTERVAL_MS = 1000;

interface Row {
  prompt: number;
  sample: number;
  ids: number[];
  params: SamplingParams;
  rng: Rng;
  maxNew: number;
  tokens: number[];
  logprobs: number[];
  done: boolean;
  /** Set when a stop token ended the row (it is the last entry of `tokens`). */
  stoppedByToken: boolean;
}

export interface ValidatedGenerateOptions {
  n: number;
  temperatures: number[];
  topK: number;
  topP: number;
  maxNewTokens: number;
  stopStrings: string[];
  stopTokenIds: number[];
  seed: string;
  promptIds: (string | number)[];
  batchSize: number;
}

function fail(field: string, msg: string): never {
  throw new EngineInputError(`generate: option ${field} ${msg}`);
}

export function validateGenerateOptions(opts: GenerateOptions, promptCount: number, eosIds: number[]): ValidatedGenerateOptions {
  const { n, temperatures, maxNewTokens, seed } = opts;
  if (!Number.isInteger(n) || n < 1) fail('n', `must be a positive integer, got ${n}`);
  if (!Array.isArray(temperatures) || temperatures.length === 0) fail('temperatures', 'must be a non-empty array');
  if (temperatures.length > n) fail('temperatures', `has ${temperatures.length} entries for n = ${n} samples`);
  temperatures.forEach((t, k) => {
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) fail(`temperatures[${k}]`, `must be a finite number ≥ 0, got ${t}`);
  });
  const topK = opts.topK ?? 0;
  if (!Number.isInteger(topK) || topK < 0) fail('topK', `must be an integer ≥ 0, got ${topK}`);
  const topP = opts.topP ?? 1;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) fail('topP', `must be in (0, 1], got ${topP}`);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) fail('maxNewTokens', `must be an integer ≥ 0, got ${maxNewTokens}`);
  if (typeof seed !== 'string') fail('seed', `must be a string, got ${typeof seed}`);
  const stopStrings = opts.stopStrings ?? [];
  stopStrings.forEach((s, k) => {
    if (typeof s !== 'string' || s.length === 0) fail(`stopStrings[${k}]`, 'must be a non-empty string');
  });
  const stopTokenIds = opts.stopTokenIds ?? eosIds;
  stopTokenIds.forEach((t, k) => {
    if (!Number.isInteger(t) || t < 0) fail(`stopTokenIds[${k}]`, `must be a token id, got ${t}`);
  });
  const promptIds = opts.promptIds ?? Array.from({ length: promptCount }, (_, i) => i);
  if (promptIds.length !== promptCount) fail('promptIds', `has ${promptIds.length} ids for ${promptCount} prompts`);
  const batchSize = opts.batchSize ?? DEFAULT_GENERATE_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) fail('batchSize', `must be a positive integer, got ${batchSize}`);
  return { n, temperatures, topK, topP, maxNewTokens, stopStrings, stopTokenIds, seed, promptIds, batchSize };
}

/** Temperature of sample j of n (api.ts: temperatures split evenly over the samples). */
export function temperatureOf(temperatures: number[], j: number, n: number): number {
  return temperatures[Math.floor((j * temperatures.length) / n)]!;
}

/** Token ids of a prompt, checked against the model's context. */
export function promptTokens(model: InferenceModel, prompt: Prompt, index: number): number[] {
  if (typeof prompt !== 'string' && !Array.isArray(prompt)) {
    throw new EngineInputError(`prompt ${index}: expected a string or an array of chat messages, got ${typeof prompt}`);
  }
  const ids = model.tokenizer.renderPrompt(prompt);
  if (ids.length === 0) throw new EngineInputError(`prompt ${index} renders to no tokens`);
  if (ids.length >= model.maxLength) {
    throw new EngineInputError(
      `prompt ${index} has ${ids.length} tokens; ${model.dir} has max_position_embeddings ${model.maxLength}, which leaves no room for a response`,
    );
  }
  return ids;
}

export async function generate(model: InferenceModel, prompts: Prompt[], opts: GenerateOptions): Promise<Generation[]> {
  return (await generateWithTokens(model, prompts, opts)).generations;
}

/** generate() plus the generated token ids of each response ([prompt][sample] → ids, stop token included). */
export async function generateWithTokens(
  model: InferenceModel,
  prompts: Prompt[],
  opts: GenerateOptions & { /** Minimum time between progress reports within a batch (default 1000 ms). */ progressIntervalMs?: number },
): Promise<{ generations: Generation[]; tokenIds: number[][][] }> {
  const o = validateGenerateOptions(opts, prompts.length, model.tokenizer.eosTokenIds);
  const promptIds = prompts.map((p, i) => promptTokens(model, p, i));
  const rows: Row[] = [];
  for (let i = 0; i < prompts.length; i++) {
    for (let j = 0; j < o.n; j++) {
      const ids = promptIds[i]!;
      rows.push({
        prompt: i,
        sample: j,
        ids,
        params: { temperature: temperatureOf(o.temperatures, j, o.n), topK: o.topK, topP: o.topP },
        rng: rngFor(o.seed, o.promptIds[i]!, j),
        maxNew: Math.min(o.maxNewTokens, model.maxLength - ids.length),
        tokens: [],
        logprobs: [],
        done: false,
        stoppedByToken: false,
      });
    }
  }
  const session = await model.session('decode');
  const stop = new StopChecker(model, o.stopStrings, o.stopTokenIds);
  let tokensSoFar = 0;
  for (let start = 0; start < rows.length; start += o.batchSize) {
    throwIfAborted(opts.signal);
    const batch = rows.slice(start, start + o.batchSize);
    const before = tokensSoFar;
    // Within a long batch, report at most once a second (activities heartbeat on progress).
    let lastTick = performance.now();
    const onStep = (tokens: number) => {
      const now = performance.now();
      if (!opts.onProgress || now - lastTick < (opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS)) return;
      lastTick = now;
      opts.onProgress({ done: Math.floor(start / o.n), total: prompts.length, detail: { responses: start, tokens: before + tokens } });
    };
    tokensSoFar += await decodeBatch(model, session, batch, stop, opts.signal, onStep);
    const rowsDone = start + batch.length;
    opts.onProgress?.({ done: Math.floor(rowsDone / o.n), total: prompts.length, detail: { responses: rowsDone, tokens: tokensSoFar } });
  }
  const generations = prompts.map((_, i) => {
    const mine = rows.slice(i * o.n, (i + 1) * o.n);
    return {
      responses: mine.map((r) => stop.responseText(r.stoppedByToken ? r.tokens.slice(0, -1) : r.tokens)),
      logprobs: mine.map((r) => r.logprobs.reduce((a, b) => a + b, 0)),
      tokenCounts: mine.map((r) => r.tokens.length),
      tokenLogprobs: mine.map((r) => r.logprobs),
    };
  });
  const tokenIds = prompts.map((_, i) => rows.slice(i * o.n, (i + 1) * o.n).map((r) => r.tokens));
  return { generations, tokenIds };
}

/** Stop tokens and stop strings. Response text is decoded without special tokens and cut at a stop string. */
class StopChecker {
  private readonly stopIds: Set<number>;
  private readonly tail: number;
  constructor(
    private readonly model: InferenceModel,
    private readonly strings: string[],
    ids: number[],
  ) {
    this.stopIds = new Set(ids);
    // Every ordinary token spells at least one byte (byte-level BPE), so a stop string completed by the newest
    // token lies within the last (its UTF-8 length + a margin for special tokens, which spell nothing) tokens.
    this.tail = Math.max(0, ...strings.map((s) => Buffer.byteLength(s, 'utf8'))) + 16;
  }
  isStopToken(t: number): boolean {
    return this.stopIds.has(t);
  }
  hitsStopString(tokens: number[]): boolean {
    if (this.strings.length === 0) return false;
    const text = this.model.tokenizer.decode(tokens.slice(-this.tail), { skipSpecialTokens: true });
    return this.strings.some((s) => text.includes(s));
  }
  responseText(tokens: number[]): string {
    let text = this.model.tokenizer.decode(tokens, { skipSpecialTokens: true });
    let cut = text.length;
    for (const s of this.strings) {
      const k = text.indexOf(s);
      if (k >= 0 && k < cut) cut = k;
    }
    if (cut < text.length) text = text.slice(0, cut);
    return text;
  }
}

/** Runs one batch of rows to completion; returns the number of tokens generated. */
async function decodeBatch(
  model: InferenceModel,
  session: ort.InferenceSession,
  rows: Row[],
  stop: StopChecker,
  signal: AbortSignal | undefined,
  onStep: (tokensSoFar: number) => void = () => {},
): Promise<number> {
  const cfg = model.config;
  const L = cfg.numHiddenLayers;
  const kvH = cfg.numKeyValueHeads;
  const hd = cfg.headDim;
  const pad = BigInt(model.tokenizer.padTokenId ?? cfg.padTokenId ?? 0);
  let active = rows.filter((r) => r.maxNew > 0);
  rows.forEach((r) => (r.done = r.maxNew <= 0));
  if (active.length === 0) return 0;

  // Prefill each distinct prompt once (the n samples of a prompt share it), left-padded to the longest so
  // that the last position is every prompt's last token; then give every row a copy of its prompt's cache.
  const uniqueOf = new Map<number, number>();
  const unique: Row[] = [];
  const rowToUnique = active.map((r) => {
    let u = uniqueOf.get(r.prompt);
    if (u === undefined) {
      u = unique.length;
      uniqueOf.set(r.prompt, u);
      unique.push(r);
    }
    return u;
  });
  const B = unique.length;
  const S = Math.max(...unique.map((r) => r.ids.length));
  const ids = new BigInt64Array(B * S).fill(pad);
  const pos = new BigInt64Array(B * S);
  const valid = new Uint8Array(B * S);
  const mask = new BigInt64Array(B * S);
  unique.forEach((r, b) => {
    const off = S - r.ids.length;
    r.ids.forEach((t, k) => {
      ids[b * S + off + k] = BigInt(t);
      pos[b * S + off + k] = BigInt(k);
      valid[b * S + off + k] = 1;
      mask[b * S + off + k] = 1n;
    });
  });
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [B, S]),
    position_ids: new ort.Tensor('int64', pos, [B, S]),
    attention_mask: new ort.Tensor('int64', mask, [B, S]),
  };
  const empty = new Float32Array(0);
  for (let l = 0; l < L; l++) {
    feeds[`past_key_values.${l}.key`] = new ort.Tensor('float32', empty, [B, kvH, 0, hd]);
    feeds[`past_key_values.${l}.value`] = new ort.Tensor('float32', empty, [B, kvH, 0, hd]);
  }
  const prefill = await session.run(feeds);
  const cache = KvCache.fromPrefill({ layers: L, kvHeads: kvH, headDim: hd }, presentOf(prefill, L), valid, B, S);
  let logits = prefill['logits']!.data as Float32Array;
  const V = logits.length / B;
  if (B !== active.length) {
    cache.keepRows(rowToUnique);
    const expanded = new Float32Array(active.length * V);
    rowToUnique.forEach((u, r) => expanded.set(logits.subarray(u * V, (u + 1) * V), r * V));
    logits = expanded;
  }
  let generated = 0;

  for (;;) {
    // Choose each active row's next token from the last logits.
    const keep: number[] = [];
    active.forEach((r, b) => {
      const off = b * V;
      const u = r.params.temperature > 0 ? r.rng.next() : 0;
      const t = chooseToken(logits, off, V, r.params, u);
      r.tokens.push(t);
      r.logprobs.push(logits[off + t]! - logSumExp(logits, off, V));
      generated++;
      if (stop.isStopToken(t)) {
        r.done = true;
        r.stoppedByToken = true;
      } else if (r.tokens.length >= r.maxNew || stop.hitsStopString(r.tokens)) r.done = true;
      else keep.push(b);
    });
    if (keep.length === 0) break;
    onStep(generated);
    if (keep.length < active.length) {
      cache.keepRows(keep);
      active = keep.map((b) => active[b]!);
    }
    throwIfAborted(signal);

    // One step: every active row's newest token attends to its cache slots.
    cache.reserve();
    const n = active.length;
    const step: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(active, (r) => BigInt(r.tokens.at(-1)!)), [n, 1]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(active, (r) => BigInt(r.ids.length + r.tokens.length - 1)), [n, 1]),
      attention_mask: new ort.Tensor('int64', cache.mask, [n, cache.capacity + 1]),
    };
    for (let l = 0; l < L; l++) {
      step[`past_key_values.${l}.key`] = new ort.Tensor('float32', cache.keys[l]!, [n, kvH, cache.capacity, hd]);
      step[`past_key_values.${l}.value`] = new ort.Tensor('float32', cache.values[l]!, [n, kvH, cache.capacity, hd]);
    }
    const out = await session.run(step);
    cache.append(presentOf(out, L));
    logits = out['logits']!.data as Float32Array;
  }
  return generated;
}

function presentOf(out: ort.InferenceSession.OnnxValueMapType, layers: number): { key: Float32Array; value: Float32Array }[] {
  return Array.from({ length: layers }, (_, l) => ({
    key: out[`present.${l}.key`]!.data as Float32Array,
    value: out[`present.${l}.value`]!.data as Float32Array,
  }));
}
