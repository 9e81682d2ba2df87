// Batched sampling from a causal LM with a KV cache. Rows are (prompt i, sample j) pairs. Up to `batchSize`
// rows decode together, one token per step; a row's prompt is prefilled (left-padded with the other admitted
// prompts, each distinct prompt once) when it joins, and a finished row leaves at once, its place taken by a
// waiting row (continuous batching). Row (i, j) draws its uniforms from rngFor(seed, promptIds[i], j), so
// its response does not depend on which other rows share its batch.

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
  await decodeRows(model, session, rows, o.batchSize, stop, opts.signal, progressReporter(opts, prompts.length, o.n));
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

/**
 * Progress in prompts (a prompt is done when all n of its samples are): reported when that count changes,
 * and otherwise at most once per interval with the token count (activities heartbeat on progress).
 */
function progressReporter(
  opts: GenerateOptions & { progressIntervalMs?: number },
  total: number,
  n: number,
): (r: { finishedRows: number[]; tokens: number }) => void {
  const finishedPerPrompt = new Array<number>(total).fill(0);
  let done = 0;
  let responses = 0;
  let last = performance.now();
  const interval = opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  return ({ finishedRows, tokens }) => {
    if (!opts.onProgress) return;
    const before = done;
    for (const p of finishedRows) {
      responses++;
      if (++finishedPerPrompt[p]! === n) done++;
    }
    const now = performance.now();
    if (done === before && now - last < interval) return;
    last = now;
    opts.onProgress({ done, total, detail: { responses, tokens } });
  };
}

/**
 * Decodes every row to completion with continuous batching: up to `batchSize` rows are active; when rows
 * finish they leave the batch (their cache rows are dropped) and waiting rows are admitted — their prompts
 * prefilled (each distinct prompt once, shared by its samples) and their caches added beside the others.
 */
async function decodeRows(
  model: InferenceModel,
  session: ort.InferenceSession,
  rows: Row[],
  batchSize: number,
  stop: StopChecker,
  signal: AbortSignal | undefined,
  report: (r: { finishedRows: number[]; tokens: number }) => void,
): Promise<void> {
  const cfg = model.config;
  const L = cfg.numHiddenLayers;
  const kvH = cfg.numKeyValueHeads;
  const hd = cfg.headDim;
  const cache = new KvCache({ layers: L, kvHeads: kvH, headDim: hd });
  const waiting = rows.filter((r) => {
    r.done = r.maxNew <= 0;
    return !r.done;
  });
  report({ finishedRows: rows.filter((r) => r.done).map((r) => r.prompt), tokens: 0 });
  let next = 0; // index of the next waiting row
  let active: Row[] = [];
  let logits: Float32Array = new Float32Array(0); // [active, V]: the next-token logits of each active row
  let V = 0;
  let generated = 0;
  // Admit new rows once a quarter of the batch is free (fewer, larger prefills) or when nothing is active.
  const admitAt = Math.max(1, Math.floor(batchSize / 4));

  for (;;) {
    throwIfAborted(signal);
    const free = batchSize - active.length;
    if (next < waiting.length && (free >= admitAt || active.length === 0)) {
      const admitted = waiting.slice(next, next + free);
      next += admitted.length;
      const fresh = await prefill(model, session, admitted, cache);
      V = fresh.length / admitted.length;
      const merged = new Float32Array((active.length + admitted.length) * V);
      merged.set(logits.subarray(0, active.length * V));
      merged.set(fresh, active.length * V);
      logits = merged;
      active = [...active, ...admitted];
    }
    if (active.length === 0) break;

    // Choose each active row's next token from its logits.
    const keep: number[] = [];
    const finished: number[] = [];
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
      if (r.done) finished.push(r.prompt);
      else keep.push(b);
    });
    report({ finishedRows: finished, tokens: generated });
    if (keep.length < active.length) {
      cache.keepRows(keep);
      active = keep.map((b) => active[b]!);
      const kept = new Float32Array(keep.length * V);
      keep.forEach((b, i) => kept.set(logits.subarray(b * V, (b + 1) * V), i * V));
      logits = kept;
    }
    if (active.length === 0) continue;
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
}

/**
 * Prefills the prompts of `rows` (each distinct prompt once, left-padded to the longest so that the last
 * position is every prompt's last token), adds the rows to the cache, and returns their logits [rows, V].
 */
async function prefill(model: InferenceModel, session: ort.InferenceSession, rows: Row[], cache: KvCache): Promise<Float32Array> {
  const cfg = model.config;
  const L = cfg.numHiddenLayers;
  const kvH = cfg.numKeyValueHeads;
  const hd = cfg.headDim;
  const pad = BigInt(model.tokenizer.padTokenId ?? cfg.padTokenId ?? 0);
  const uniqueOf = new Map<number, number>();
  const unique: Row[] = [];
  const source = rows.map((r) => {
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
  const out = await session.run(feeds);
  cache.addRows(presentOf(out, L), valid, S, source);
  const logits = out['logits']!.data as Float32Array;
  const V = logits.length / B;
  const perRow = new Float32Array(rows.length * V);
  source.forEach((u, r) => perRow.set(logits.subarray(u * V, (u + 1) * V), r * V));
  return perRow;
}

function presentOf(out: ort.InferenceSession.OnnxValueMapType, layers: number): { key: Float32Array; value: Float32Array }[] {
  return Array.from({ length: layers }, (_, l) => ({
    key: out[`present.${l}.key`]!.data as Float32Array,
    value: out[`present.${l}.value`]!.data as Float32Array,
  }));
}
