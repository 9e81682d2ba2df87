// Hugging Face `config.json` for Llama models, normalized into the fields the engine needs.
//
// Accepts both spellings of rotary settings: the classic `rope_theta` + `rope_scaling` and the newer
// `rope_parameters` (transformers ≥ 4.57 / 5). Writes the classic spelling back, which every transformers
// version loads.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineInputError } from './errors';

export type LlamaArchitecture = 'LlamaForCausalLM' | 'LlamaForSequenceClassification';
export const SUPPORTED_ARCHITECTURES: readonly LlamaArchitecture[] = ['LlamaForCausalLM', 'LlamaForSequenceClassification'];

/** Rotary scaling. `llama3` as in Llama 3.1+ (`_compute_llama3_parameters`); `linear` divides every frequency. */
export type RopeScaling =
  | {
      ropeType: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | { ropeType: 'linear'; factor: number };

export interface LlamaConfig {
  architecture: LlamaArchitecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  /** Per-head size; default hiddenSize / numAttentionHeads. */
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** null: plain RoPE (`rope_type: "default"`). */
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Number of score outputs (LlamaForSequenceClassification); 1 for a Bradley–Terry reward model. */
  numLabels: number;
  bosTokenId: number | null;
  /** Every end-of-sequence id (`eos_token_id` may be a number or a list in HF configs). */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** Fields of the original config.json that the engine does not interpret; written back unchanged. */
  extra: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** Read and normalize `<dir>/config.json`. Throws EngineInputError naming the file and field at fault. */
export function readLlamaConfig(dir: string): LlamaConfig {
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EngineInputError(`model config not found: ${file} (${(e as Error).message})`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new EngineInputError(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return parseLlamaConfig(json, file);
}

/** Normalize a parsed HF config object. `source` names the file in error messages. */
export function parseLlamaConfig(json: unknown, source = 'config.json'): LlamaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new EngineInputError(`${source}: expected a JSON object`);
  }
  const c = json as Json;
  const where = (field: string): string => `${source}: field "${field}"`;

  // A bare string (transformers stores it as given) is read as the one architecture it names, not ignored.
  const archs = typeof c['architectures'] === 'string' ? [c['architectures']] : c['architectures'];
  const modelType = c['model_type'];
  let architecture: LlamaArchitecture;
  if (Array.isArray(archs) && archs.length > 0) {
    const a = archs[0];
    if (typeof a !== 'string' || !(SUPPORTED_ARCHITECTURES as readonly string[]).includes(a)) {
      throw new EngineInputError(
        `${source}: unsupported architecture ${JSON.stringify(a)}; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`,
      );
    }
    architecture = a as LlamaArchitecture;
  } else if (modelType === 'llama') {
    architecture = 'LlamaForCausalLM';
  } else {
    throw new EngineInputError(
      `${source}: no "architectures" field and model_type ${JSON.stringify(modelType)} is not "llama"`,
    );
  }
  if (modelType !== undefined && modelType !== 'llama') {
    throw new EngineInputError(`${source}: unsupported model_type ${JSON.stringify(modelType)} (expected "llama")`);
  }

  const int = (field: string, fallback?: number): number => {
    const v = c[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new EngineInputError(`${where(field)} is missing`);
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new EngineInputError(`${where(field)} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const num = (obj: Json, field: string, label: string, fallback?: number): number => {
    const v = obj[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new EngineInputError(`${source}: field "${label}" is missing`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new EngineInputError(`${source}: field "${label}" must be a number, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const tokenId = (field: string): number | null => {
    const v = c[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new EngineInputError(`${where(field)} must be a token id, got ${JSON.stringify(v)}`);
    }
    return v;
  };

  for (const flag of ['attention_bias', 'mlp_bias'] as const) {
    if (c[flag] !== undefined && c[flag] !== false) {
      throw new EngineInputError(`${where(flag)} = ${JSON.stringify(c[flag])} is unsupported (only false)`);
    }
  }
  const act = c['hidden_act'];
  if (act !== undefined && act !== 'silu') {
    throw new EngineInputError(`${where('hidden_act')} = ${JSON.stringify(act)} is unsupported (only "silu")`);
  }
  const prf = c['partial_rotary_factor'];
  if (prf !== undefined && prf !== null && prf !== 1 && prf !== 1.0) {
    throw new EngineInputError(`${where('partial_rotary_factor')} = ${JSON.stringify(prf)} is unsupported (only 1)`);
  }

  const hiddenSize = int('hidden_size');
  const numAttentionHeads = int('num_attention_heads');
  const numKeyValueHeads = int('num_key_value_heads', numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new EngineInputError(
      `${source}: num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  if (c['head_dim'] === undefined && hiddenSize % numAttentionHeads !== 0) {
    throw new EngineInputError(`${source}: hidden_size (${hiddenSize}) is not divisible by num_attention_heads`);
  }
  const headDim = int('head_dim', hiddenSize / numAttentionHeads);
  if (headDim % 2 !== 0) throw new EngineInputError(`${where('head_dim')} must be even, got ${headDim}`);

  // Rotary parameters: new spelling first, classic as fallback.
  const rp = c['rope_parameters'];
  const rs = c['rope_scaling'];
  let ropeTheta: number;
  let scalingObj: Json | null = null;
  let scalingLabel = 'rope_scaling';
  if (rp !== undefined && rp !== null) {
    if (typeof rp !== 'object' || Array.isArray(rp)) {
      throw new EngineInputError(`${where('rope_parameters')} must be an object`);
    }
    const rpo = rp as Json;
    ropeTheta = num(rpo, 'rope_theta', 'rope_parameters.rope_theta', typeof c['rope_theta'] === 'number' ? (c['rope_theta'] as number) : 10000);
    scalingObj = rpo;
    scalingLabel = 'rope_parameters';
  } else {
    ropeTheta = num(c, 'rope_theta', 'rope_theta', 10000);
    if (rs !== undefined && rs !== null) {
      if (typeof rs !== 'object' || Array.isArray(rs)) throw new EngineInputError(`${where('rope_scaling')} must be an object or null`);
      scalingObj = rs as Json;
    }
  }
  if (ropeTheta <= 0) throw new EngineInputError(`${source}: rope_theta must be positive, got ${ropeTheta}`);
  let ropeScaling: RopeScaling | null = null;
  if (scalingObj) {
    const type = scalingObj['rope_type'] ?? scalingObj['type'] ?? 'default';
    if (type === 'llama3') {
      ropeScaling = {
        ropeType: 'llama3',
        factor: num(scalingObj, 'factor', `${scalingLabel}.factor`),
        lowFreqFactor: num(scalingObj, 'low_freq_factor', `${scalingLabel}.low_freq_factor`),
        highFreqFactor: num(scalingObj, 'high_freq_factor', `${scalingLabel}.high_freq_factor`),
        originalMaxPositionEmbeddings: num(
          scalingObj,
          'original_max_position_embeddings',
          `${scalingLabel}.original_max_position_embeddings`,
        ),
      };
      if (ropeScaling.highFreqFactor === ropeScaling.lowFreqFactor) {
        throw new EngineInputError(`${source}: ${scalingLabel}.high_freq_factor must differ from low_freq_factor`);
      }
    } else if (type === 'linear') {
      ropeScaling = { ropeType: 'linear', factor: num(scalingObj, 'factor', `${scalingLabel}.factor`) };
    } else if (type !== 'default') {
      throw new EngineInputError(
        `${source}: ${scalingLabel}.rope_type ${JSON.stringify(type)} is unsupported (supported: default, linear, llama3)`,
      );
    }
  }

  const eos = c['eos_token_id'];
  let eosTokenIds: number[];
  if (eos === undefined || eos === null) eosTokenIds = [];
  else if (typeof eos === 'number' && Number.isInteger(eos)) eosTokenIds = [eos];
  else if (Array.isArray(eos) && eos.every((x) => typeof x === 'number' && Number.isInteger(x))) eosTokenIds = eos as number[];
  else throw new EngineInputError(`${where('eos_token_id')} must be a token id or a list of ids, got ${JSON.stringify(eos)}`);

  const known = new Set([
    'architectures', 'model_type', 'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers',
    'num_attention_heads', 'num_key_value_heads', 'head_dim', 'rms_norm_eps', 'rope_theta', 'rope_scaling',
    'rope_parameters', 'max_position_embeddings', 'tie_word_embeddings', 'num_labels', 'id2label', 'label2id',
    'bos_token_id', 'eos_token_id', 'pad_token_id', 'attention_bias', 'mlp_bias', 'hidden_act', 'torch_dtype', 'dtype',
  ]);
  const extra: Json = {};
  for (const [k, v] of Object.entries(c)) if (!known.has(k)) extra[k] = v;

  let numLabels = 1;
  if (c['num_labels'] !== undefined) numLabels = int('num_labels');
  else if (c['id2label'] && typeof c['id2label'] === 'object') numLabels = Object.keys(c['id2label'] as Json).length || 1;
  else if (architecture === 'LlamaForSequenceClassification') numLabels = 2; // transformers' default

  const tie = c['tie_word_embeddings'];
  if (tie !== undefined && typeof tie !== 'boolean') {
    throw new EngineInputError(`${where('tie_word_embeddings')} must be a boolean`);
  }

  return {
    architecture,
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numHiddenLayers: int('num_hidden_layers'),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: num(c, 'rms_norm_eps', 'rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings: int('max_position_embeddings', 2048),
    // transformers' PretrainedConfig default is true; LlamaConfig keeps it false.
    tieWordEmbeddings: tie ?? false,
    numLabels,
    bosTokenId: tokenId('bos_token_id'),
    eosTokenIds,
    padTokenId: tokenId('pad_token_id'),
    extra,
  };
}

/** The config.json object that transformers' LlamaConfig loads (classic rope_theta/rope_scaling spelling). */
export function toHfConfigJson(cfg: LlamaConfig): Record<string, unknown> {
  const out: Json = {
    ...cfg.extra,
    architectures: [cfg.architecture],
    model_type: 'llama',
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numHiddenLayers,
    num_attention_heads: cfg.numAttentionHeads,
    num_key_value_heads: cfg.numKeyValueHeads,
    head_dim: cfg.headDim,
    hidden_act: 'silu',
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling:
      cfg.ropeScaling === null
        ? null
        : cfg.ropeScaling.ropeType === 'llama3'
          ? {
              rope_type: 'llama3',
              factor: cfg.ropeScaling.factor,
              low_freq_factor: cfg.ropeScaling.lowFreqFactor,
              high_freq_factor: cfg.ropeScaling.highFreqFactor,
              original_max_position_embeddings: cfg.ropeScaling.originalMaxPositionEmbeddings,
            }
          : { rope_type: 'linear', factor: cfg.ropeScaling.factor },
    max_position_embeddings: cfg.maxPositionEmbeddings,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenIds.length === 1 ? cfg.eosTokenIds[0] : cfg.eosTokenIds,
    pad_token_id: cfg.padTokenId,
    torch_dtype: 'float32',
  };
  if (cfg.architecture === 'LlamaForSequenceClassification') {
    out['num_labels'] = cfg.numLabels;
    const id2label: Json = {};
    const label2id: Json = {};
    for (let i = 0; i < cfg.numLabels; i++) {
      id2label[String(i)] = `LABEL_${i}`;
      label2id[`LABEL_${i}`] = i;
    }
    out['id2label'] = id2label;
    out['label2id'] = label2id;
  }
  delete out['rope_parameters'];
  delete out['dtype'];
  return out;
}

/**
 * RoPE inverse frequencies inv_freq[i] = 1 / theta^(2i/headDim), i < headDim/2, with the config's scaling
 * applied exactly as transformers' `ROPE_INIT_FUNCTIONS` (default, linear, llama3). Computed in float64;
 * transformers computes them in float32 (differences ≈ 1e-7 relative).
 */
export function ropeInverseFrequencies(cfg: LlamaConfig): Float64Array {
  const half = cfg.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(cfg.ropeTheta, (2 * i) / cfg.headDim);
  const s = cfg.ropeScaling;
  if (s === null) return inv;
  if (s.ropeType === 'linear') return inv.map((f) => f / s.factor);
  const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highFreqWavelen) return f; // high frequency: unchanged
    if (wavelen > lowFreqWavelen) return f / s.factor; // low frequency: scaled
    const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}
