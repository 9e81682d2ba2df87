// A plain-JS float64 Llama forward (loops, no ONNX) used by tests as an independent reference for the graph.
// Follows transformers' LlamaModel: RMSNorm, rotate-half RoPE, repeat_kv, causal + padding mask, SwiGLU.

import type { LlamaConfig } from '../hf/config';
import { ropeInverseFrequencies } from '../hf/config';

type W = Map<string, Float64Array>;

function get(w: W, name: string): Float64Array {
  const a = w.get(name);
  if (!a) throw new Error(`reference: missing weight ${name}`);
  return a;
}

/** y[t, o] = Σ_i x[t, i] · W[o, i] */
function linear(x: Float64Array, rows: number, w: Float64Array, out: number, inp: number): Float64Array {
  const y = new Float64Array(rows * out);
  for (let t = 0; t < rows; t++)
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < inp; i++) s += x[t * inp + i]! * w[o * inp + i]!;
      y[t * out + o] = s;
    }
  return y;
}

function rmsNorm(x: Float64Array, rows: number, h: number, w: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(rows * h);
  for (let t = 0; t < rows; t++) {
    let ss = 0;
    for (let i = 0; i < h; i++) ss += x[t * h + i]! ** 2;
    const r = 1 / Math.sqrt(ss / h + eps);
    for (let i = 0; i < h; i++) y[t * h + i] = w[i]! * x[t * h + i]! * r;
  }
  return y;
}

export interface ReferenceOutput {
  hidden: Float64Array[]; // per batch row [T*H]
  logits: Float64Array[]; // per batch row [T*V] (lm head)
  rewards: number[][]; // per batch row [numLabels] (score head)
}

export function referenceForward(
  cfg: LlamaConfig,
  w: W,
  inputIds: number[][],
  attentionMask: number[][],
  positionIds: number[][],
  head: 'lm' | 'score',
): ReferenceOutput {
  const H = cfg.hiddenSize;
  const nH = cfg.numAttentionHeads;
  const kvH = cfg.numKeyValueHeads;
  const hd = cfg.headDim;
  const I = cfg.intermediateSize;
  const V = cfg.vocabSize;
  const inv = ropeInverseFrequencies(cfg);
  const out: ReferenceOutput = { hidden: [], logits: [], rewards: [] };
  for (let b = 0; b < inputIds.length; b++) {
    const ids = inputIds[b]!;
    const T = ids.length;
    const emb = get(w, 'model.embed_tokens.weight');
    let x = new Float64Array(T * H);
    for (let t = 0; t < T; t++) for (let i = 0; i < H; i++) x[t * H + i] = emb[ids[t]! * H + i]!;
    const rope = (v: Float64Array, heads: number): void => {
      for (let t = 0; t < T; t++)
        for (let h = 0; h < heads; h++) {
          const base = t * heads * hd + h * hd;
          const rot = new Float64Array(hd);
          for (let j = 0; j < hd; j++) {
            const f = positionIds[b]![t]! * inv[j % (hd / 2)]!;
            const other = j < hd / 2 ? -v[base + j + hd / 2]! : v[base + j - hd / 2]!;
            rot[j] = v[base + j]! * Math.cos(f) + other * Math.sin(f);
          }
          for (let j = 0; j < hd; j++) v[base + j] = rot[j]!;
        }
    };
    for (let l = 0; l < cfg.numHiddenLayers; l++) {
      const p = `model.layers.${l}`;
      const h = rmsNorm(x, T, H, get(w, `${p}.input_layernorm.weight`), cfg.rmsNormEps);
      const q = linear(h, T, get(w, `${p}.self_attn.q_proj.weight`), nH * hd, H);
      const k = linear(h, T, get(w, `${p}.self_attn.k_proj.weight`), kvH * hd, H);
      const v = linear(h, T, get(w, `${p}.self_attn.v_proj.weight`), kvH * hd, H);
      rope(q, nH);
      rope(k, kvH);
      const o = new Float64Array(T * nH * hd);
      for (let hh = 0; hh < nH; hh++) {
        const kh = Math.floor(hh / (nH / kvH));
        for (let t = 0; t < T; t++) {
          const sc = new Float64Array(T);
          let m = -Infinity;
          for (let s = 0; s < T; s++) {
            let d = 0;
            for (let j = 0; j < hd; j++) d += q[t * nH * hd + hh * hd + j]! * k[s * kvH * hd + kh * hd + j]!;
            d /= Math.sqrt(hd);
            if (s > t || attentionMask[b]![s] === 0) d += -1e9;
            sc[s] = d;
            m = Math.max(m, d);
          }
          let z = 0;
          for (let s = 0; s < T; s++) z += (sc[s] = Math.exp(sc[s]! - m));
          for (let j = 0; j < hd; j++) {
            let acc = 0;
            for (let s = 0; s < T; s++) acc += (sc[s]! / z) * v[s * kvH * hd + kh * hd + j]!;
            o[t * nH * hd + hh * hd + j] = acc;
          }
        }
      }
      const ao = linear(o, T, get(w, `${p}.self_attn.o_proj.weight`), H, nH * hd);
      x = x.map((xi, i) => xi + ao[i]!);
      const h2 = rmsNorm(x, T, H, get(w, `${p}.post_attention_layernorm.weight`), cfg.rmsNormEps);
      const gate = linear(h2, T, get(w, `${p}.mlp.gate_proj.weight`), I, H);
      const up = linear(h2, T, get(w, `${p}.mlp.up_proj.weight`), I, H);
      const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]!);
      const down = linear(act, T, get(w, `${p}.mlp.down_proj.weight`), H, I);
      x = x.map((xi, i) => xi + down[i]!);
    }
    const hidden = rmsNorm(x, T, H, get(w, 'model.norm.weight'), cfg.rmsNormEps);
    out.hidden.push(hidden);
    if (head === 'lm') {
      const lm = cfg.tieWordEmbeddings ? get(w, 'model.embed_tokens.weight') : get(w, 'lm_head.weight');
      out.logits.push(linear(hidden, T, lm, V, H));
    } else {
      let last = 0;
      for (let t = 0; t < T; t++) {
        const keep = cfg.padTokenId !== null ? ids[t] !== cfg.padTokenId : attentionMask[b]![t] === 1;
        if (keep) last = t;
      }
      const r = linear(hidden.subarray(last * H, (last + 1) * H), 1, get(w, 'score.weight'), cfg.numLabels, H);
      out.rewards.push(Array.from(r));
    }
  }
  return out;
}
