// Inference-only building blocks of the Llama decoder that map onto single ONNX Runtime CPU kernels (the
// frozen, float32 sessions of engine/generate). They compute what llama.ts's differentiable versions compute
// — same math, fewer and larger kernels — but have no gradient rules, so training graphs never use them.
//
//   rmsNormKernel   — SimplifiedLayerNormalization (ORT's RMSNorm; fused with the residual Add by ORT).
//   rotaryKernel    — com.microsoft.RotaryEmbedding (rotate-half) with cos/sin tables baked in.
//   mergedLinear    — q/k/v (or gate/up) projections as one MatMul on the row-concatenated weights + Split.

import type { LlamaConfig } from '../hf/config';
import { ropeInverseFrequencies } from '../hf/config';
import type { Graph, Value } from '../onnx/graph';

/** y = w · x / sqrt(mean(x²) + eps) over the last axis, as one kernel (float32 statistics). */
export function rmsNormKernel(g: Graph, x: Value, w: Value, eps: number): Value {
  return g.node('SimplifiedLayerNormalization', [x, w], { axis: -1, epsilon: { f: eps }, stash_type: 1 }, [
    { dtype: x.dtype, shape: [...x.shape] },
  ])[0]!;
}

/**
 * cos/sin tables [max_position_embeddings, head_dim/2] for RotaryEmbedding, rounded as HF computes them in
 * float32: angle = fp32(position · inv_freq), then cos/sin of that angle.
 */
export function rotaryTables(cfg: LlamaConfig): { cos: Float32Array; sin: Float32Array; positions: number } {
  const inv = Float32Array.from(ropeInverseFrequencies(cfg));
  const half = inv.length;
  const positions = cfg.maxPositionEmbeddings;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * inv[i]!);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin, positions };
}

/**
 * HF's apply_rotary_pos_emb (rotate-half) on x [B, T, heads·head_dim] at `positionIds` [B, T], every head
 * rotated alike. `tables` are the initializers made from rotaryTables.
 */
export function rotaryKernel(g: Graph, x: Value, positionIds: Value, tables: { cos: Value; sin: Value }, heads: number): Value {
  return g.node('RotaryEmbedding', [x, positionIds, tables.cos, tables.sin], { interleaved: 0, num_heads: heads }, [{ dtype: x.dtype, shape: [...x.shape] }], {
    domain: 'com.microsoft',
  })[0]!;
}

/**
 * x · [W₁; W₂; …]ᵀ split back into x · W₁ᵀ, x · W₂ᵀ, … — one MatMul over weights that share their input
 * (HF layout [out, in], concatenated along `out` into one initializer named `name`).
 */
export function mergedLinear(g: Graph, x: Value, name: string, weights: { data: ArrayLike<number>; rows: number }[], inFeatures: number): Value[] {
  const rows = weights.reduce((s, w) => s + w.rows, 0);
  const data = new Float32Array(rows * inFeatures);
  let off = 0;
  for (const w of weights) {
    data.set(w.data, off);
    off += w.rows * inFeatures;
  }
  const merged = g.initializer(name, 'float32', [rows, inFeatures], data);
  const y = g.matmul(x, g.transpose(merged, [1, 0]));
  return g.split(
    y,
    -1,
    weights.map((w) => w.rows),
  );
}
