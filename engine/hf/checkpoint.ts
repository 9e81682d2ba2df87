// Hugging Face model folders: config.json + model.safetensors (or shards) + tokenizer files.
// Loading validates every expected tensor (name and shape derived from the config); saving writes a folder
// that transformers' LlamaForCausalLM / LlamaForSequenceClassification `from_pretrained` loads.

import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { InitModelOptions } from '../api';
import { rngFor } from '../rng';
import { BYTE_BOS_ID, BYTE_EOS_ID, BYTE_PAD_ID, BYTE_VOCAB_SIZE, writeByteTokenizer } from '../tokenizer/byte';
import { type LlamaConfig, type RopeScaling, readLlamaConfig, toHfConfigJson } from './config';
import { EngineInputError } from './errors';
import { type Tensor, numel, readModelWeights, writeSafetensors } from './safetensors';

/** Tensor name → float32 tensor, with HF names (`model.layers.0.self_attn.q_proj.weight`, …). */
export type Weights = Map<string, Tensor>;

export interface HfModel {
  dir: string;
  config: LlamaConfig;
  /**
   * Exactly the tensors of `expectedTensorShapes(config)`. A tied model has no `lm_head.weight`: its output
   * projection is `model.embed_tokens.weight`.
   */
  weights: Weights;
  /** Folder holding tokenizer.json (the model folder itself). */
  tokenizerDir: string;
}

/** Every tensor a Llama model of this config has, with its shape (nn.Linear weights are [out, in]). */
export function expectedTensorShapes(cfg: LlamaConfig): Map<string, number[]> {
  const h = cfg.hiddenSize;
  const q = cfg.numAttentionHeads * cfg.headDim;
  const kv = cfg.numKeyValueHeads * cfg.headDim;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [cfg.vocabSize, h]);
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [h]);
    m.set(`${p}.self_attn.q_proj.weight`, [q, h]);
    m.set(`${p}.self_attn.k_proj.weight`, [kv, h]);
    m.set(`${p}.self_attn.v_proj.weight`, [kv, h]);
    m.set(`${p}.self_attn.o_proj.weight`, [h, q]);
    m.set(`${p}.post_attention_layernorm.weight`, [h]);
    m.set(`${p}.mlp.gate_proj.weight`, [cfg.intermediateSize, h]);
    m.set(`${p}.mlp.up_proj.weight`, [cfg.intermediateSize, h]);
    m.set(`${p}.mlp.down_proj.weight`, [h, cfg.intermediateSize]);
  }
  m.set('model.norm.weight', [h]);
  if (cfg.architecture === 'LlamaForCausalLM') {
    if (!cfg.tieWordEmbeddings) m.set('lm_head.weight', [cfg.vocabSize, h]);
  } else {
    m.set('score.weight', [cfg.numLabels, h]);
  }
  return m;
}

/** Check that `weights` holds every expected tensor with its shape; `source` names the file in errors. */
export function validateWeights(cfg: LlamaConfig, weights: Weights, source: string): Weights {
  const out: Weights = new Map();
  for (const [name, shape] of expectedTensorShapes(cfg)) {
    const t = weights.get(name);
    if (!t) throw new EngineInputError(`${source}: missing tensor "${name}" (expected shape [${shape.join(', ')}])`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new EngineInputError(`${source}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`);
    }
    if (t.data.length !== numel(shape)) throw new EngineInputError(`${source}: tensor "${name}" has ${t.data.length} values for shape [${shape.join(', ')}]`);
    out.set(name, t);
  }
  return out;
}

/** Load config, weights (validated, float32) and the tokenizer location of a HF model folder. */
export function loadHfModel(dir: string): HfModel {
  if (!existsSync(dir)) throw new EngineInputError(`model folder not found: ${dir}`);
  const config = readLlamaConfig(dir);
  const { tensors, files } = readModelWeights(dir);
  const source = files.length === 1 ? files[0]! : `${join(dir, 'model.safetensors.index.json')} (${files.length} shards)`;
  // Some exporters drop lm_head for tied models, some keep it: a tied model ignores it.
  return { dir, config, weights: validateWeights(config, tensors, source), tokenizerDir: dir };
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

/** generation_config.json for a causal LM (HF generate reads its eos/bos/pad). */
export function generationConfigJson(cfg: LlamaConfig): Record<string, unknown> {
  return {
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenIds.length === 1 ? cfg.eosTokenIds[0] : cfg.eosTokenIds,
    pad_token_id: cfg.padTokenId,
    do_sample: false,
  };
}

/**
 * Write a HF-layout folder atomically: everything goes to a sibling tmp folder, which then replaces `dir`.
 * Tokenizer files come from `tokenizerFrom` (a folder; tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, chat_template.jinja where present) and/or `tokenizerFiles` (name → contents).
 */
export function saveHfModel(
  dir: string,
  model: {
    config: LlamaConfig;
    weights: Weights;
    tokenizerFrom?: string;
    tokenizerFiles?: Record<string, string | Uint8Array>;
    dtype?: 'F32' | 'F16';
  },
): void {
  const weights = validateWeights(model.config, model.weights, `weights to save in ${dir}`);
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}-${Date.now()}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(toHfConfigJson(model.config), null, 2));
    if (model.config.architecture === 'LlamaForCausalLM') {
      writeFileSync(join(tmp, 'generation_config.json'), JSON.stringify(generationConfigJson(model.config), null, 2));
    }
    writeSafetensors(join(tmp, 'model.safetensors'), weights, model.dtype ? { dtype: model.dtype } : {});
    if (model.tokenizerFrom) {
      if (!existsSync(join(model.tokenizerFrom, 'tokenizer.json'))) {
        throw new EngineInputError(`no tokenizer in ${model.tokenizerFrom}: tokenizer.json is missing`);
      }
      for (const f of TOKENIZER_FILES) {
        if (existsSync(join(model.tokenizerFrom, f))) copyFileSync(join(model.tokenizerFrom, f), join(tmp, f));
      }
    }
    for (const [name, body] of Object.entries(model.tokenizerFiles ?? {})) writeFileSync(join(tmp, name), body);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** InitModelOptions plus optional config fields the parity fixtures and tests use. */
export interface InitModelOptionsExt extends InitModelOptions {
  head_dim?: number;
  rms_norm_eps?: number;
  rope_scaling?: RopeScaling | null;
  num_labels?: number;
  /** Standard deviation of the normal init of linear and embedding weights (HF initializer_range). */
  initializer_range?: number;
}

/** The LlamaConfig an InitModelOptions describes (byte tokenizer ids). */
export function configFromInitOptions(o: InitModelOptionsExt): LlamaConfig {
  if (o.tokenizer !== 'byte') throw new EngineInputError(`initModel: tokenizer ${JSON.stringify(o.tokenizer)} is unsupported (only "byte")`);
  const ints: (keyof InitModelOptionsExt)[] = [
    'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'max_position_embeddings',
  ];
  for (const k of ints) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new EngineInputError(`initModel: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (o.num_attention_heads % o.num_key_value_heads !== 0) {
    throw new EngineInputError(`initModel: num_attention_heads (${o.num_attention_heads}) must be a multiple of num_key_value_heads (${o.num_key_value_heads})`);
  }
  const headDim = o.head_dim ?? o.hidden_size / o.num_attention_heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new EngineInputError(`initModel: head_dim must be an even integer, got ${headDim}`);
  return {
    architecture: o.architecture,
    vocabSize: BYTE_VOCAB_SIZE,
    hiddenSize: o.hidden_size,
    intermediateSize: o.intermediate_size,
    numHiddenLayers: o.num_hidden_layers,
    numAttentionHeads: o.num_attention_heads,
    numKeyValueHeads: o.num_key_value_heads,
    headDim,
    rmsNormEps: o.rms_norm_eps ?? 1e-5,
    ropeTheta: o.rope_theta ?? 10000,
    ropeScaling: o.rope_scaling ?? null,
    maxPositionEmbeddings: o.max_position_embeddings,
    tieWordEmbeddings: o.architecture === 'LlamaForCausalLM' ? (o.tie_word_embeddings ?? false) : false,
    numLabels: o.architecture === 'LlamaForSequenceClassification' ? (o.num_labels ?? 1) : 1,
    bosTokenId: BYTE_BOS_ID,
    eosTokenIds: [BYTE_EOS_ID],
    padTokenId: BYTE_PAD_ID,
    extra: { initializer_range: o.initializer_range ?? 0.02 },
  };
}

/**
 * HF-like random init, seeded per tensor (`rngFor(String(seed), 'init', name)`): linear and embedding weights
 * ~ N(0, initializer_range²), the embedding row of pad_token_id zero (nn.Embedding padding_idx), norms 1.
 */
export function randomWeights(cfg: LlamaConfig, seed: number | string, initializerRange = 0.02): Weights {
  const w: Weights = new Map();
  for (const [name, shape] of expectedTensorShapes(cfg)) {
    const data = new Float32Array(numel(shape));
    if (name.endsWith('layernorm.weight') || name === 'model.norm.weight') data.fill(1);
    else {
      const rng = rngFor(String(seed), 'init', name);
      for (let i = 0; i < data.length; i++) data[i] = rng.normal() * initializerRange;
      if (name === 'model.embed_tokens.weight' && cfg.padTokenId !== null) data.fill(0, cfg.padTokenId * cfg.hiddenSize, (cfg.padTokenId + 1) * cfg.hiddenSize);
    }
    w.set(name, { shape, data });
  }
  return w;
}

/**
 * Engine.initModel: a new model folder with random weights and the byte tokenizer. With `initFrom`, every
 * tensor whose name and shape match is copied from that model (e.g. a reward model from the SFT policy:
 * everything but `score.weight`). Returns the names copied.
 */
export function initRandomModel(opts: InitModelOptionsExt): { copied: string[] } {
  const config = configFromInitOptions(opts);
  const weights = randomWeights(config, opts.seed, opts.initializer_range ?? 0.02);
  const copied: string[] = [];
  if (opts.initFrom) {
    const src = loadHfModel(opts.initFrom);
    for (const [name, t] of weights) {
      const s = src.weights.get(name);
      if (s && s.shape.length === t.shape.length && s.shape.every((d, i) => d === t.shape[i])) {
        weights.set(name, { shape: [...s.shape], data: new Float32Array(s.data) });
        copied.push(name);
      }
    }
    if (copied.length === 0) throw new EngineInputError(`initModel: initFrom ${opts.initFrom} shares no tensor (name and shape) with the new model`);
  }
  const tmpTok = join(dirname(opts.dir), `.${basename(opts.dir)}.tok-${process.pid}-${Date.now()}`);
  writeByteTokenizer(tmpTok);
  try {
    saveHfModel(opts.dir, { config, weights, tokenizerFrom: tmpTok });
  } finally {
    rmSync(tmpTok, { recursive: true, force: true });
  }
  return { copied };
}

/** Names of the files in a model folder (for manifests). */
export function modelFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
}
