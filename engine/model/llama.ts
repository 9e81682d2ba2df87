// The Llama decoder (Hugging Face LlamaForCausalLM / LlamaForSequenceClassification) as an ONNX graph,
// written once over the builder in engine/onnx. Training graphs (train-graphs.ts) add losses and the reverse
// pass on top of `buildLlama`; inference sessions (engine/generate, engine/score) use `buildLlamaGraph`.
//
// Layouts: hidden states [B, T, H]; queries [B, kvHeads, groups, T, headDim], attending as one matrix
// [B, kvHeads, groups·T, headDim] per KV head against keys [B, kvHeads, S, headDim] (grouped-query attention
// without a repeat_kv copy); head h of HF's layout is (kv = h / groups, group = h % groups), the same pairing
// as HF's repeat_kv. With a KV cache the scores against the past and the new keys are computed separately
// and joined (the cache is never copied). Pair graphs can run a shared prompt once and use its keys/values
// as the KV cache of the responses (train-graphs.ts, sharedPromptModel).

import { customGrad } from '../autodiff/grad';
import { unbroadcast } from '../autodiff/rules/broadcast';
import type { LlamaConfig } from '../hf/config';
import { ropeInverseFrequencies } from '../hf/config';
import { EngineInputError } from '../hf/errors';
import type { Dim, FloatDType, Graph, TensorData, Value } from '../onnx/graph';
import { Graph as GraphClass, TO_END } from '../onnx/graph';
import { joinedScores, joinedValues } from './joined-attention';
import { mergedLinear, rmsNormKernel, rotaryKernel, rotaryTables } from './kernels';

export type LlamaHead = 'lm' | 'score';

/** A weight's HF name and shape ([out, in] for projections, as in safetensors). */
export interface WeightSpec {
  name: string;
  shape: number[];
}

/** Every weight of the model, in a fixed order (embeddings, layers 0…N−1, final norm, head). */
export function llamaWeightSpecs(cfg: LlamaConfig, head: LlamaHead = headOf(cfg)): WeightSpec[] {
  const H = cfg.hiddenSize;
  const qd = cfg.numAttentionHeads * cfg.headDim;
  const kvd = cfg.numKeyValueHeads * cfg.headDim;
  const I = cfg.intermediateSize;
  const specs: WeightSpec[] = [{ name: 'model.embed_tokens.weight', shape: [cfg.vocabSize, H] }];
  for (let l = 0; l < cfg.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [H] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [qd, H] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kvd, H] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kvd, H] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [H, qd] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [H] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [I, H] },
      { name: `${p}.mlp.up_proj.weight`, shape: [I, H] },
      { name: `${p}.mlp.down_proj.weight`, shape: [H, I] },
    );
  }
  specs.push({ name: 'model.norm.weight', shape: [H] });
  if (head === 'score') specs.push({ name: 'score.weight', shape: [cfg.numLabels, H] });
  else if (!cfg.tieWordEmbeddings) specs.push({ name: 'lm_head.weight', shape: [cfg.vocabSize, H] });
  return specs;
}

export function headOf(cfg: LlamaConfig): LlamaHead {
  return cfg.architecture === 'LlamaForSequenceClassification' ? 'score' : 'lm';
}

export interface LlamaOptions {
  /** Graph float dtype (weights, activations, logits). Default 'float32'. */
  dtype?: FloatDType;
  /**
   * 'inputs': each weight is a graph input named as in HF (training; the session is reused as weights change).
   * 'initializers': weights are baked in (frozen inference; ORT can pre-pack them) — needs `weights`.
   */
  weightsAs?: 'inputs' | 'initializers';
  /** Weight data by HF name (for weightsAs 'initializers'); Float32Array for float32, Float64Array for float64. */
  weights?: (name: string) => TensorData;
  /**
   * KV cache: adds inputs `past_key_values.N.key|value` [B, kvHeads, P, headDim] (P may be 0) and outputs
   * `present.N.key|value`. attention_mask then covers past + new tokens: [B, P+T].
   */
  kvCache?: false | { present: 'full' | 'new' };
  /** LM head: logits of every position [B,T,V], of the last input position only [B,1,V], or none. Default 'all'. */
  logits?: 'all' | 'last' | 'none';
  /** Default from cfg.architecture. */
  head?: LlamaHead;
  /**
   * Frozen float32 inference only (needs weightsAs 'initializers'): build with the single-kernel blocks of
   * kernels.ts (merged q/k/v and gate/up projections, RMSNorm and RoPE kernels). Same math; no gradients.
   */
  inferenceKernels?: boolean;
  /** Token inputs as values of the graph (default: new inputs input_ids, attention_mask, position_ids). */
  tokens?: { inputIds: Value; attentionMask: Value; positionIds: Value };
  /** The weights of an earlier buildLlama call in the same graph, shared (default: new inputs/initializers). */
  weightValues?: Map<string, Value>;
  /** With kvCache: past keys/values computed in the graph, one per layer (default: past_key_values inputs). */
  pastValues?: { key: Value; value: Value }[];
  /** Symbolic names of this call's batch and sequence dims (default DIMS.batch, DIMS.seq). */
  dims?: { batch: string; seq: string };
  /**
   * With kvCache, for graphs with a reverse pass: attention over [past | new] through joined-attention.ts (the
   * same float32 results; past and new keys/values joined where that keeps the sums, fewer copies of the scores
   * in the reverse pass). Default false: the joined keys would copy the cache at every generation step.
   */
  joinedKv?: boolean;
}

/** The values of a Llama model built into a graph. */
export interface LlamaModel {
  graph: Graph;
  cfg: LlamaConfig;
  head: LlamaHead;
  /** HF weight name → graph value (input or initializer). */
  weights: Map<string, Value>;
  inputIds: Value; // [B, T] int64
  attentionMask: Value; // [B, T] or [B, P+T] int64
  positionIds: Value; // [B, T] int64
  past: { key: Value; value: Value }[]; // empty without kvCache
  /** New K/V rows per layer [B, kvHeads, T, headDim] (after RoPE), and the full cache [B, kvHeads, P+T, headDim]. */
  presentNew: { key: Value; value: Value }[];
  presentFull: { key: Value; value: Value }[];
  /** Final normed hidden states [B, T, H]. */
  hidden: Value;
  /** lm head: [B, T, V] ('all') or [B, 1, V] ('last'); undefined for 'none' or the score head. */
  logits?: Value;
  /** score head: [B, numLabels], pooled at the last non-pad token (HF LlamaForSequenceClassification). */
  rewards?: Value;
}

/** The dimension names used for symbolic sizes. */
export const DIMS = { batch: 'batch', seq: 'seq', past: 'past', total: 'past+seq' } as const;

function checkConfig(cfg: LlamaConfig): void {
  if (cfg.numAttentionHeads % cfg.numKeyValueHeads !== 0) {
    throw new EngineInputError(
      `config: num_attention_heads (${cfg.numAttentionHeads}) must be a multiple of num_key_value_heads (${cfg.numKeyValueHeads})`,
    );
  }
  if (cfg.headDim % 2 !== 0) throw new EngineInputError(`config: head_dim must be even, got ${cfg.headDim}`);
}

/**
 * RMSNorm y = w · x · r, r = 1/sqrt(mean(x²) + eps) over the last axis, with a fused backward:
 * g = dy·w; dx = r·(g − x̂·mean(g·x̂)) with x̂ = x·r; dw = Σ dy·x̂ over all but the last axis.
 */
export function rmsNorm(g: Graph, x: Value, w: Value, eps: number): Value {
  let r: Value | undefined;
  let xn: Value | undefined;
  const [y] = customGrad(
    g,
    [x, w],
    () => {
      const variance = g.reduceMean(g.mul(x, x), [-1], true);
      r = g.reciprocal(g.sqrt(g.add(variance, g.scalar(eps))));
      xn = g.mul(x, r);
      return [g.mul(xn, w)];
    },
    (gg, [dY], needs) => {
      const dw = needs[1] ? unbroadcast(gg, gg.mul(dY!, xn!), w) : null;
      let dx: Value | null = null;
      if (needs[0]) {
        const gv = gg.mul(dY!, w);
        const m = gg.reduceMean(gg.mul(gv, xn!), [-1], true);
        dx = gg.mul(gg.sub(gv, gg.mul(xn!, m)), r!);
      }
      return [dx, dw];
    },
  );
  return y!;
}

/**
 * SwiGLU activation silu(gate) · up with a fused backward (s = σ(gate), silu = gate·s):
 * d_up = d·silu; d_gate = d·up·(s + silu·(1 − s)).
 */
export function swiglu(g: Graph, gate: Value, up: Value): Value {
  let s: Value | undefined;
  let silu: Value | undefined;
  const [act] = customGrad(
    g,
    [gate, up],
    () => {
      s = g.sigmoid(gate);
      silu = g.mul(gate, s);
      return [g.mul(silu, up)];
    },
    (gg, [d], needs) => {
      const dUp = needs[1] ? gg.mul(d!, silu!) : null;
      let dGate: Value | null = null;
      if (needs[0]) {
        const slope = gg.add(s!, gg.mul(silu!, gg.sub(gg.scalar(1, s!.dtype), s!)));
        dGate = gg.mul(gg.mul(d!, up), slope);
      }
      return [dGate, dUp];
    },
  );
  return act!;
}

/** x · Wᵀ for an HF weight W [out, in]. */
export function linear(g: Graph, x: Value, w: Value): Value {
  return g.matmul(x, g.transpose(w, [1, 0]));
}

/** concat(x₂, x₁) over the last axis (one reversed Slice of the [.., 2, half] view: no Split/Concat pair). */
function swapHalves(g: Graph, x: Value, half: number): Value {
  const keep = x.shape.slice(0, -1).map(() => 0);
  const pairs = g.reshape(x, [...keep, 2, half], [...x.shape.slice(0, -1), 2, half]);
  return g.reshape(g.slice(pairs, [-1], [-TO_END], [-2], [-1]), [...keep, 2 * half], [...x.shape]);
}

/**
 * HF apply_rotary_pos_emb: x·cos + rotate_half(x)·sin with rotate_half(x) = concat(−x₂, x₁), written as
 * x·cos + swap_halves(x)·sinSigned where sinSigned = sin·(−1 on the first half, +1 on the second): the same
 * products bit for bit (the sign is exact). swap_halves is its own transpose, so dx = dy·cos + swap(dy·sinSigned).
 */
function applyRope(g: Graph, x: Value, cos: Value, sinSigned: Value, half: number): Value {
  const [y] = customGrad(
    g,
    [x],
    () => [g.add(g.mul(x, cos), g.mul(swapHalves(g, x, half), sinSigned))],
    (gg, [dY]) => [gg.add(gg.mul(dY!, cos), swapHalves(gg, gg.mul(dY!, sinSigned), half))],
  );
  return y!;
}

/**
 * Builds the decoder into `g` (float dtype g.dtype). Adds inputs `input_ids`, `attention_mask`,
 * `position_ids` (int64), the weights (as inputs or initializers) and, with kvCache, the past inputs.
 * Marks no outputs: callers decide (see buildLlamaGraph, train-graphs.ts).
 */
export function buildLlama(g: Graph, cfg: LlamaConfig, opts: Omit<LlamaOptions, 'dtype'> = {}): LlamaModel {
  checkConfig(cfg);
  const head = opts.head ?? headOf(cfg);
  const dt = g.dtype;
  const weightsAs = opts.weightsAs ?? 'inputs';
  if (weightsAs === 'initializers' && !opts.weights) {
    throw new EngineInputError('buildLlama: weightsAs "initializers" needs the weights option');
  }
  const kernels = opts.inferenceKernels ?? false;
  if (kernels && (weightsAs !== 'initializers' || dt !== 'float32')) {
    throw new EngineInputError('buildLlama: inferenceKernels needs float32 weights baked in as initializers');
  }
  const logitsMode = opts.logits ?? 'all';
  const kv = opts.kvCache || null;
  const B: Dim = opts.dims?.batch ?? DIMS.batch;
  const T: Dim = opts.dims?.seq ?? DIMS.seq;
  const S: Dim = kv ? DIMS.total : T;
  const nH = cfg.numAttentionHeads;
  const kvH = cfg.numKeyValueHeads;
  const groups = nH / kvH;
  const hd = cfg.headDim;
  const half = hd / 2;

  const inputIds = opts.tokens?.inputIds ?? g.input('input_ids', 'int64', [B, T]);
  const attentionMask = opts.tokens?.attentionMask ?? g.input('attention_mask', 'int64', [B, S]);
  const positionIds = opts.tokens?.positionIds ?? g.input('position_ids', 'int64', [B, T]);
  const past: { key: Value; value: Value }[] = [];
  if (kv && opts.pastValues) {
    if (opts.pastValues.length !== cfg.numHiddenLayers) {
      throw new EngineInputError(`buildLlama: ${opts.pastValues.length} past values for ${cfg.numHiddenLayers} layers`);
    }
    past.push(...opts.pastValues);
  } else if (kv) {
    for (let l = 0; l < cfg.numHiddenLayers; l++) {
      past.push({
        key: g.input(`past_key_values.${l}.key`, dt, [B, kvH, DIMS.past, hd]),
        value: g.input(`past_key_values.${l}.value`, dt, [B, kvH, DIMS.past, hd]),
      });
    }
  }

  const weights = new Map<string, Value>(opts.weightValues ?? []);
  for (const spec of llamaWeightSpecs(cfg, head)) {
    if (weights.has(spec.name)) continue;
    if (weightsAs === 'inputs') weights.set(spec.name, g.input(spec.name, dt, spec.shape));
    else {
      const data = opts.weights!(spec.name);
      weights.set(spec.name, g.initializer(spec.name, dt, spec.shape, data));
    }
  }
  const W = (name: string): Value => {
    const v = weights.get(name);
    if (!v) throw new EngineInputError(`buildLlama: missing weight ${name}`);
    return v;
  };

  // Rotary tables cos/sin [B, T, headDim] from position_ids (HF: freqs = position · inv_freq, emb = cat(freqs, freqs)).
  const invFreq = ropeInverseFrequencies(cfg);
  const invFreqC = g.constant(dt, [half], dt === 'float32' ? Float32Array.from(invFreq) : invFreq);
  const pos = g.unsqueeze(g.cast(positionIds, dt), [-1]); // [B,T,1]
  const freqs = g.mul(pos, invFreqC); // [B,T,half]
  const emb = g.concat([freqs, freqs], -1); // [B,T,hd]
  const cosE = g.cos(emb);
  const sinE = g.sin(emb);
  const cosK = g.unsqueeze(cosE, [1]); // [B,1,T,hd]
  const halfSigns = Array.from({ length: 2 * half }, (_, i) => (i < half ? -1 : 1));
  const sinK = g.unsqueeze(g.mul(sinE, g.constant(dt, [2 * half], halfSigns)), [1]); // sin·(−1 | +1), see applyRope
  // Queries are scaled by 1/√head_dim before the scores. When that is a power of two (head_dim 4ᵏ, e.g. 64) the
  // scale goes into the queries' rotary tables: x·(c·2⁻ᵏ) = (x·c)·2⁻ᵏ exactly in binary floating point (short of
  // subnormals), so the same bits as a Mul after the rotation, one pass over the queries fewer (and in the reverse pass).
  const scaleValue = 1 / Math.sqrt(hd);
  const scaleInTables = !kernels && Number.isInteger(Math.log2(scaleValue));
  const cosQ = scaleInTables ? g.unsqueeze(g.mul(cosE, g.scalar(scaleValue)), [1, 2]) : g.unsqueeze(cosK, [1]); // [B,1,1,T,hd]
  const sinQ = scaleInTables
    ? g.unsqueeze(g.mul(sinE, g.constant(dt, [2 * half], halfSigns.map((x) => x * scaleValue))), [1, 2])
    : g.unsqueeze(sinK, [1]);
  let ropeTables: { cos: Value; sin: Value } | undefined;
  if (kernels) {
    const t = rotaryTables(cfg);
    ropeTables = {
      cos: g.initializer('rope.cos', dt, [t.positions, half], t.cos),
      sin: g.initializer('rope.sin', dt, [t.positions, half], t.sin),
    };
  }
  const norm = (x: Value, w: Value): Value => (kernels ? rmsNormKernel(g, x, w, cfg.rmsNormEps) : rmsNorm(g, x, w, cfg.rmsNormEps));
  /** An HF weight's data and row count (inference kernels merge projections at build time). */
  const specs = new Map(llamaWeightSpecs(cfg, head).map((s) => [s.name, s.shape]));
  const data = (name: string) => ({ data: opts.weights!(name) as ArrayLike<number>, rows: specs.get(name)![0]! });

  // Additive attention bias [B,1,1,T,S]: −1e9 where the key is in the future or is padding.
  const seqLen = g.squeeze(g.shapeOf(inputIds, 1, 2), [0]); // scalar T
  const zero = g.scalar(0, 'int64');
  const one = g.scalar(1, 'int64');
  let pastLen: Value = zero;
  let totalLen: Value = seqLen;
  if (kv) {
    pastLen = g.squeeze(g.shapeOf(past[0]!.key, 2, 3), [0]);
    totalLen = g.add(pastLen, seqLen);
  }
  const qPos = g.range(pastLen, totalLen, one, T); // [T]
  const kPos = g.range(zero, totalLen, one, S); // [S]
  const future = g.greater(g.unsqueeze(kPos, [0]), g.unsqueeze(qPos, [1])); // [T,S]
  const padKey = g.unsqueeze(g.equal(attentionMask, zero), [1]); // [B,1,S]
  const masked = g.or(future, padKey); // [B,T,S]
  const bias = g.unsqueeze(g.where(masked, g.scalar(-1e9), g.scalar(0)), [1, 2]); // [B,1,1,T,S]

  const scale = g.scalar(scaleValue);
  let x = g.gather(W('model.embed_tokens.weight'), inputIds, 0); // [B,T,H]
  const presentNew: { key: Value; value: Value }[] = [];
  const presentFull: { key: Value; value: Value }[] = [];

  for (let l = 0; l < cfg.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    // Self-attention.
    const h = norm(x, W(`${p}.input_layernorm.weight`));
    let q: Value; // [B,T,nH*hd]
    let k: Value; // [B,T,kvH*hd]
    let v: Value;
    if (kernels) {
      const qkv = [data(`${p}.self_attn.q_proj.weight`), data(`${p}.self_attn.k_proj.weight`), data(`${p}.self_attn.v_proj.weight`)];
      [q, k, v] = mergedLinear(g, h, `${p}.self_attn.qkv_proj.weight`, qkv, cfg.hiddenSize) as [Value, Value, Value];
      q = rotaryKernel(g, q, positionIds, ropeTables!, nH);
      k = rotaryKernel(g, k, positionIds, ropeTables!, kvH);
    } else {
      q = linear(g, h, W(`${p}.self_attn.q_proj.weight`));
      k = linear(g, h, W(`${p}.self_attn.k_proj.weight`));
      v = linear(g, h, W(`${p}.self_attn.v_proj.weight`));
    }
    q = g.transpose(g.reshape(q, [0, 0, kvH, groups, hd]), [0, 2, 3, 1, 4]); // [B,kvH,G,T,hd]
    k = g.transpose(g.reshape(k, [0, 0, kvH, hd]), [0, 2, 1, 3]); // [B,kvH,T,hd]
    v = g.transpose(g.reshape(v, [0, 0, kvH, hd]), [0, 2, 1, 3]);
    if (!kernels) {
      q = applyRope(g, q, cosQ, sinQ, half);
      k = applyRope(g, k, cosK, sinK, half);
    }
    // The G query heads of a KV head as one matrix [B,kvH,G·T,hd]: one MatMul per KV head against its keys.
    const GT: Dim = typeof T === 'number' ? groups * T : `${groups}*${T}`;
    const qs = g.reshape(scaleInTables ? q : g.mul(q, scale), [0, 0, -1, hd], [B, kvH, GT, hd]);
    /** q·Kᵀ for K [B,kvH,S,hd] as a MatMul on a transposed view (ORT fuses it into FusedMatMul, no copy). */
    const scoresAgainst = (keys: Value): Value => g.matmul(qs, g.transpose(keys, [0, 1, 3, 2]));
    /** Scores [B,kvH,G·T,S] → probabilities, masked by the bias [B,1,1,T,S] per query (as [B,kvH,G,T,S]). */
    const attend = (scores: Value, sDim: Dim): Value => {
      const perQuery = g.node('Reshape', [scores, g.concat([g.shapeOf(q, 0, 4), g.shapeOf(scores, 3, 4)], 0)], {}, [
        { dtype: dt, shape: [B, kvH, groups, T, sDim] },
      ])[0]!;
      return g.reshapeLike(g.softmax(g.add(perQuery, bias), -1), scores);
    };
    let attn: Value; // [B,kvH,G·T,hd]
    if (kv) {
      const pk = past[l]!.key;
      const pv = past[l]!.value;
      presentNew.push({ key: k, value: v });
      presentFull.push({ key: g.concat([pk, k], 2), value: g.concat([pv, v], 2) });
      const sizes = g.concat([g.shapeOf(pk, 2, 3), g.shapeOf(k, 2, 3)], 0);
      if (opts.joinedKv) {
        const parts = { sizes, past: DIMS.past, fresh: T, total: S };
        attn = joinedValues(g, attend(joinedScores(g, qs, pk, k, parts), S), pv, v, parts);
      } else {
        // Attention over [past | new] without concatenating the cache: only the scores [.., G·T, P+T] are joined.
        const probs = attend(g.concat([scoresAgainst(pk), scoresAgainst(k)], -1), S);
        const [pPast, pNew] = g.node('Split', [probs, sizes], { axis: 3 }, [
          { dtype: dt, shape: [B, kvH, GT, DIMS.past] },
          { dtype: dt, shape: [B, kvH, GT, T] },
        ]) as [Value, Value];
        attn = g.add(g.matmul(pPast, pv), g.matmul(pNew, v));
      }
    } else {
      presentNew.push({ key: k, value: v });
      attn = g.matmul(attend(scoresAgainst(k), T), v);
    }
    attn = g.reshapeLike(attn, q); // [B,kvH,G,T,hd]
    const merged = g.reshape(g.transpose(attn, [0, 3, 1, 2, 4]), [0, 0, -1], [B, T, nH * hd]);
    x = g.add(x, linear(g, merged, W(`${p}.self_attn.o_proj.weight`)));

    // SwiGLU MLP.
    const h2 = norm(x, W(`${p}.post_attention_layernorm.weight`));
    const gateUp = kernels ? [data(`${p}.mlp.gate_proj.weight`), data(`${p}.mlp.up_proj.weight`)] : [];
    const [gate, up] = kernels
      ? (mergedLinear(g, h2, `${p}.mlp.gate_up_proj.weight`, gateUp, cfg.hiddenSize) as [Value, Value])
      : [linear(g, h2, W(`${p}.mlp.gate_proj.weight`)), linear(g, h2, W(`${p}.mlp.up_proj.weight`))];
    const act = swiglu(g, gate, up);
    x = g.add(x, linear(g, act, W(`${p}.mlp.down_proj.weight`)));
  }
  const hidden = norm(x, W('model.norm.weight'));

  const model: LlamaModel = {
    graph: g,
    cfg,
    head,
    weights,
    inputIds,
    attentionMask,
    positionIds,
    past,
    presentNew,
    presentFull,
    hidden,
  };
  if (head === 'lm' && logitsMode !== 'none') {
    const lmHead = cfg.tieWordEmbeddings ? W('model.embed_tokens.weight') : W('lm_head.weight');
    const hs = logitsMode === 'last' ? g.slice(hidden, [-1], [TO_END], [1]) : hidden;
    model.logits = linear(g, hs, lmHead);
  }
  if (head === 'score') model.rewards = linear(g, poolLastToken(g, model), W('score.weight'));
  return model;
}

/**
 * Hidden state [B, H] at the rightmost token that is not pad_token_id (HF LlamaForSequenceClassification);
 * without a pad_token_id, at the rightmost position where attention_mask = 1.
 */
export function poolLastToken(g: Graph, m: LlamaModel): Value {
  const dt = g.dtype;
  const keep =
    m.cfg.padTokenId !== null
      ? g.not(g.equal(m.inputIds, g.scalar(m.cfg.padTokenId, 'int64')))
      : g.equal(m.attentionMask, g.scalar(1, 'int64'));
  const seqLen = g.squeeze(g.shapeOf(m.inputIds, 1, 2), [0]);
  const positions = g.cast(g.range(g.scalar(0, 'int64'), seqLen, g.scalar(1, 'int64'), DIMS.seq), dt); // [T]
  const last = g.argMax(g.mul(g.cast(keep, dt), positions), 1, false); // [B] int64
  const batch = g.squeeze(g.shapeOf(m.inputIds, 0, 1), [0]);
  const rowStart = g.mul(g.range(g.scalar(0, 'int64'), batch, g.scalar(1, 'int64'), DIMS.batch), seqLen); // [B]
  const flat = g.reshape(m.hidden, [-1, m.cfg.hiddenSize], [`${DIMS.batch}*${DIMS.seq}`, m.cfg.hiddenSize]);
  return g.gather(flat, g.add(rowStart, last), 0); // [B, H]
}

/**
 * A complete inference graph. Inputs: `input_ids`, `attention_mask`, `position_ids` [B,T] int64, the weights
 * (named as in HF, unless baked in as initializers) and, with kvCache, `past_key_values.N.key|value`.
 * Outputs: `logits` ([B,T,V] or [B,1,V]) for the lm head, `rewards` [B, numLabels] for the score head,
 * `present.N.key|value` with kvCache ('new': only this call's rows [B,kvH,T,hd]; 'full': [B,kvH,P+T,hd]).
 */
export function buildLlamaGraph(cfg: LlamaConfig, opts: LlamaOptions = {}): { graph: Graph; model: LlamaModel } {
  const g = new GraphClass(opts.dtype ?? 'float32', 'llama');
  const model = buildLlama(g, cfg, opts);
  if (model.logits) g.output('logits', model.logits);
  if (model.rewards) g.output('rewards', model.rewards);
  if (opts.kvCache) {
    const present = opts.kvCache.present === 'new' ? model.presentNew : model.presentFull;
    present.forEach((p, l) => {
      g.output(`present.${l}.key`, p.key);
      g.output(`present.${l}.value`, p.value);
    });
  }
  return { graph: g, model };
}
