// Tiny configs and seeded random weights for engine tests (not used in production paths).

import type { LlamaConfig } from '../hf/config';
import type { LlamaHead } from './llama';
import { llamaWeightSpecs } from './llama';
import type { Graph } from '../onnx/graph';
import type { ort } from '../onnx/session';
import { createSession, tensor, toNumbers } from '../onnx/session';
import { gradName } from './train-graphs';
import { mulberry32 } from '../autodiff/fd';

export { mulberry32 };

export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    architecture: 'LlamaForCausalLM',
    vocabSize: 11,
    hiddenSize: 8,
    intermediateSize: 12,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 2,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: 64,
    tieWordEmbeddings: false,
    numLabels: 1,
    bosTokenId: 1,
    eosTokenIds: [2],
    padTokenId: 0,
    extra: {},
    ...over,
  };
}

/** Random weights (norm weights around 1, others ~ N(0, scale²)-ish uniform). */
export function randomWeights(cfg: LlamaConfig, seed: number, head?: LlamaHead, scale = 0.5): Map<string, Float64Array> {
  const rnd = mulberry32(seed);
  const out = new Map<string, Float64Array>();
  for (const s of llamaWeightSpecs(cfg, head)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const a = new Float64Array(n);
    const isNorm = s.name.endsWith('norm.weight');
    for (let i = 0; i < n; i++) a[i] = isNorm ? 1 + 0.3 * (rnd() * 2 - 1) : scale * (rnd() * 2 - 1);
    out.set(s.name, a);
  }
  return out;
}


/** Feeds for every weight input of `graph` from float64 arrays (converted to the graph dtype). */
export function weightFeeds(graph: Graph, weights: Map<string, Float64Array>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const inp of graph.inputs) {
    const w = weights.get(inp.name);
    if (!w) continue;
    const dims = inp.shape as number[];
    feeds[inp.name] = inp.dtype === 'float64' ? tensor('float64', w, dims) : tensor('float32', Float32Array.from(w), dims);
  }
  return feeds;
}

/** input_ids / attention_mask / position_ids feeds for right-padded rows (position ids count real tokens). */
export function batchFeeds(rows: number[][], T: number, pad = 0): { ids: number[][]; mask: number[][]; pos: number[][]; feeds: Record<string, ort.Tensor> } {
  const ids = rows.map((r) => [...r, ...Array<number>(T - r.length).fill(pad)]);
  const mask = rows.map((r) => Array.from({ length: T }, (_, t) => (t < r.length ? 1 : 0)));
  const pos = rows.map(() => Array.from({ length: T }, (_, t) => t));
  const B = rows.length;
  return {
    ids,
    mask,
    pos,
    feeds: {
      input_ids: tensor('int64', ids.flat(), [B, T]),
      attention_mask: tensor('int64', mask.flat(), [B, T]),
      position_ids: tensor('int64', pos.flat(), [B, T]),
    },
  };
}

const PAD = 0;

/** Right-padded batch with targets = ids shifted left and loss_mask on response targets. */
export function lmBatch(rows: { prompt: number[]; response: number[] }[], T: number): { feeds: Record<string, ort.Tensor>; ids: number[][]; mask: number[][]; targets: number[][]; lossMask: number[][] } {
  const ids: number[][] = [];
  const mask: number[][] = [];
  const targets: number[][] = [];
  const lossMask: number[][] = [];
  for (const r of rows) {
    const seq = [...r.prompt, ...r.response];
    ids.push(Array.from({ length: T }, (_, t) => seq[t] ?? PAD));
    mask.push(Array.from({ length: T }, (_, t) => (t < seq.length ? 1 : 0)));
    targets.push(Array.from({ length: T }, (_, t) => seq[t + 1] ?? PAD));
    lossMask.push(Array.from({ length: T }, (_, t) => (t + 1 >= r.prompt.length && t + 1 < seq.length ? 1 : 0)));
  }
  const B = rows.length;
  const pos = ids.map(() => Array.from({ length: T }, (_, t) => t));
  return {
    ids,
    mask,
    targets,
    lossMask,
    feeds: {
      input_ids: tensor('int64', ids.flat(), [B, T]),
      attention_mask: tensor('int64', mask.flat(), [B, T]),
      position_ids: tensor('int64', pos.flat(), [B, T]),
      targets: tensor('int64', targets.flat(), [B, T]),
      loss_mask: tensor('float64', lossMask.flat(), [B, T]),
    },
  };
}

export interface FdReport {
  maxRelErr: number;
  worst: string;
  directional: number;
}

/**
 * Checks the graph's gradient outputs against central differences of its `loss`: per weight, the 2 largest
 * and 2 random coordinates; plus one directional derivative along a random direction over all weights.
 */
export async function fdCheck(tg: { graph: Graph; trainableNames: string[] }, batch: Record<string, ort.Tensor>, w: Map<string, Float64Array>, seed: number): Promise<FdReport> {
  const sess = await createSession(tg.graph.toBytes(), { optimization: 'basic' });
  const run = async (ws: Map<string, Float64Array>): Promise<Record<string, ort.Tensor>> =>
    sess.run({ ...batch, ...weightFeeds(tg.graph, ws) });
  const lossAt = async (ws: Map<string, Float64Array>): Promise<number> => toNumbers((await run(ws))['loss']!)[0]!;
  const base = await run(w);
  const rnd = mulberry32(seed);
  const eps = 1e-6;
  let maxRelErr = 0;
  let worst = '';
  for (const name of tg.trainableNames) {
    const a = toNumbers(base[gradName(name)]!);
    const order = a.map((v, i) => [Math.abs(v), i] as const).sort((x, y) => y[0] - x[0]);
    const coords = [order[0]![1], order[1]![1], Math.floor(rnd() * a.length), Math.floor(rnd() * a.length)];
    let num = 0;
    let den = 0;
    for (const c of coords) {
      const arr = w.get(name)!;
      const x0 = arr[c]!;
      arr[c] = x0 + eps;
      const lp = await lossAt(w);
      arr[c] = x0 - eps;
      const lm = await lossAt(w);
      arr[c] = x0;
      const fd = (lp - lm) / (2 * eps);
      num = Math.max(num, Math.abs(fd - a[c]!));
      den = Math.max(den, Math.abs(fd), Math.abs(a[c]!));
    }
    const e = den === 0 ? 0 : num / den;
    if (e >= maxRelErr) {
      maxRelErr = e;
      worst = name;
    }
  }
  // Directional derivative along a random direction v over every trainable weight.
  const dir = new Map<string, Float64Array>();
  let dot = 0;
  for (const name of tg.trainableNames) {
    const a = toNumbers(base[gradName(name)]!);
    const v = Float64Array.from(a, () => rnd() * 2 - 1);
    dir.set(name, v);
    a.forEach((x, i) => (dot += x * v[i]!));
  }
  const shifted = (s: number): Map<string, Float64Array> =>
    new Map([...w].map(([k, arr]) => [k, dir.has(k) ? arr.map((x, i) => x + s * dir.get(k)![i]!) : arr]));
  const fdDir = ((await lossAt(shifted(eps))) - (await lossAt(shifted(-eps)))) / (2 * eps);
  await sess.release();
  return { maxRelErr, worst, directional: Math.abs(fdDir - dot) / Math.max(Math.abs(dot), 1e-12) };
}

