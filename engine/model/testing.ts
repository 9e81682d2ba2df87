// Tiny configs and seeded random weights for engine tests (not used in production paths).

import type { LlamaConfig } from '../hf/config';
import type { LlamaHead } from './llama';
import { llamaWeightSpecs } from './llama';

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

/** Deterministic PRNG (mulberry32) for tests. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
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

import type { Graph } from '../onnx/graph';
import type { ort } from '../onnx/session';
import { tensor } from '../onnx/session';

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
