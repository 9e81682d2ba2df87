import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLlamaConfig, readLlamaConfig, ropeInverseFrequencies, toHfConfigJson } from './config';
import { encodeSafetensors, f16ToF32, f32ToF16, readModelWeights, readSafetensors, writeSafetensors } from './safetensors';
import { expectedTensorShapes, initRandomModel, loadHfModel, saveHfModel } from './checkpoint';

const tmp = mkdtempSync(join(tmpdir(), 'e2-hf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const llama3 = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 128256,
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  max_position_embeddings: 131072,
  tie_word_embeddings: false,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  attention_bias: false,
  mlp_bias: false,
  hidden_act: 'silu',
};

describe('config.json', () => {
  it('normalizes a Llama-3.1 config (classic rope_scaling)', () => {
    const c = parseLlamaConfig(llama3);
    expect(c.headDim).toBe(128);
    expect(c.numKeyValueHeads).toBe(8);
    expect(c.ropeTheta).toBe(500000);
    expect(c.ropeScaling).toEqual({ ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(c.eosTokenIds).toEqual([128001, 128008, 128009]);
    expect(c.padTokenId).toBeNull();
  });
  it('accepts the newer rope_parameters spelling', () => {
    const { rope_theta: _t, rope_scaling: _s, ...rest } = llama3;
    const c = parseLlamaConfig({ ...rest, rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    expect(c.ropeTheta).toBe(500000);
    expect(c.ropeScaling?.ropeType).toBe('llama3');
    const d = parseLlamaConfig({ ...rest, rope_parameters: { rope_type: 'default', rope_theta: 1234 } });
    expect(d.ropeTheta).toBe(1234);
    expect(d.ropeScaling).toBeNull();
  });
  it('round-trips through toHfConfigJson', () => {
    const c = parseLlamaConfig(llama3);
    const again = parseLlamaConfig(toHfConfigJson(c));
    expect(again).toEqual(c);
  });
  it('computes llama3 inverse frequencies as transformers (hand-checked values)', () => {
    const c = parseLlamaConfig({ ...llama3, hidden_size: 16, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 4, rope_theta: 10000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } });
    const f = ropeInverseFrequencies(c);
    // i=0: wavelen 2π lies between 16/4 and 16/1 → smoothed: (1−s)/8 + s with s = (16/2π − 1)/3
    const s = (16 / (2 * Math.PI) - 1) / 3;
    expect(f[0]).toBeCloseTo((1 - s) / 8 + s, 12);
    expect(f[1]).toBeCloseTo(0.01 / 8, 12); // low frequency: divided by factor
  });
  it('rejects unsupported architectures, naming the file', () => {
    const file = join(tmp, 'bad-arch');
    writeFileSync(join(tmp, 'config.json'), JSON.stringify({ ...llama3, architectures: ['MistralForCausalLM'] }));
    expect(() => readLlamaConfig(tmp)).toThrow(/config\.json: unsupported architecture "MistralForCausalLM"/);
    // A bare string names the architecture (not read as "no architectures", which would mean the causal LM).
    writeFileSync(join(tmp, 'config.json'), JSON.stringify({ ...llama3, architectures: 'LlamaForSequenceClassification' }));
    expect(readLlamaConfig(tmp).architecture).toBe('LlamaForSequenceClassification');
    writeFileSync(join(tmp, 'config.json'), JSON.stringify({ ...llama3, architectures: 'MistralForCausalLM' }));
    expect(() => readLlamaConfig(tmp)).toThrow(/unsupported architecture "MistralForCausalLM"/);
    expect(() => readLlamaConfig(file)).toThrow(/model config not found: .*bad-arch\/config\.json/);
    expect(() => parseLlamaConfig({ ...llama3, attention_bias: true }, 'x/config.json')).toThrow(/x\/config\.json: field "attention_bias"/);
    expect(() => parseLlamaConfig({ ...llama3, mlp_bias: true })).toThrow(/mlp_bias/);
    expect(() => parseLlamaConfig({ ...llama3, rope_scaling: { rope_type: 'yarn', factor: 2 } })).toThrow(/rope_type "yarn" is unsupported/);
    expect(() => parseLlamaConfig({ ...llama3, hidden_size: 'big' })).toThrow(/field "hidden_size" must be a positive integer/);
    try {
      readLlamaConfig(tmp);
    } catch (e) {
      expect((e as Error).name).toBe('EngineInputError');
    }
  });
});

describe('safetensors', () => {
  it('round-trips F32 exactly and F16 to half precision', () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => (i - 5.5) / 3);
    const file = join(tmp, 'a.safetensors');
    writeSafetensors(file, { b: { shape: [3, 4], data }, a: { shape: [2], data: new Float32Array([1, -2]) } });
    const { tensors, metadata } = readSafetensors(file);
    expect(metadata['format']).toBe('pt');
    expect([...tensors.keys()]).toEqual(['a', 'b']);
    expect(tensors.get('b')!.shape).toEqual([3, 4]);
    expect(Buffer.from(tensors.get('b')!.data.buffer).equals(Buffer.from(data.buffer))).toBe(true);
    writeSafetensors(file, { b: { shape: [3, 4], data } }, { dtype: 'F16' });
    const h = readSafetensors(file).tensors.get('b')!.data;
    for (let i = 0; i < 12; i++) expect(Math.abs(h[i]! - data[i]!)).toBeLessThan(2e-3);
  });
  it('converts F16 and BF16 bits exactly', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    // hand-built BF16 file: 1.0 = 0x3F80, -2.5 = 0xC020
    const header = Buffer.from(JSON.stringify({ x: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }));
    const buf = Buffer.alloc(8 + header.length + 4);
    buf.writeBigUInt64LE(BigInt(header.length));
    header.copy(buf, 8);
    buf.writeUInt16LE(0x3f80, 8 + header.length);
    buf.writeUInt16LE(0xc020, 8 + header.length + 2);
    const file = join(tmp, 'bf16.safetensors');
    writeFileSync(file, buf);
    expect([...readSafetensors(file).tensors.get('x')!.data]).toEqual([1, -2.5]);
  });
  it('rejects a corrupt header, naming the file', () => {
    const file = join(tmp, 'corrupt.safetensors');
    const good = encodeSafetensors({ w: { shape: [2], data: new Float32Array([1, 2]) } });
    const bad = Buffer.from(good);
    bad.writeBigUInt64LE(10n ** 12n);
    writeFileSync(file, bad);
    expect(() => readSafetensors(file)).toThrow(/corrupt\.safetensors: corrupt safetensors header/);
    const bad2 = Buffer.from(good);
    bad2.write('@@@', 8);
    writeFileSync(file, bad2);
    expect(() => readSafetensors(file)).toThrow(/corrupt\.safetensors: corrupt safetensors header \(not valid JSON/);
    writeFileSync(file, Buffer.from([1, 2, 3]));
    expect(() => readSafetensors(file)).toThrow(/corrupt\.safetensors: corrupt safetensors header/);
  });
  it('reads sharded weights through model.safetensors.index.json', () => {
    const dir = join(tmp, 'sharded');
    rmSync(dir, { recursive: true, force: true });
    initRandomModel({ dir, architecture: 'LlamaForCausalLM', hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 32, tokenizer: 'byte', seed: 3 });
    const whole = readModelWeights(dir).tensors;
    rmSync(join(dir, 'model.safetensors'));
    const names = [...whole.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((ns, i) => {
      const f = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, f), new Map(ns.map((n) => [n, whole.get(n)!])));
      for (const n of ns) weightMap[n] = f;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const m = loadHfModel(dir);
    for (const [n, t] of whole) expect(m.weights.get(n)!.data).toEqual(t.data);
  });
});

describe('HF model folders', () => {
  const opts = { architecture: 'LlamaForCausalLM' as const, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 32, tokenizer: 'byte' as const, seed: 7 };
  it('initRandomModel is seeded, HF-like and loads back', () => {
    const a = join(tmp, 'init-a');
    const b = join(tmp, 'init-b');
    initRandomModel({ ...opts, dir: a });
    initRandomModel({ ...opts, dir: b });
    expect(readFileSync(join(a, 'model.safetensors')).equals(readFileSync(join(b, 'model.safetensors')))).toBe(true);
    const m = loadHfModel(a);
    expect([...m.weights.keys()].sort()).toEqual([...expectedTensorShapes(m.config).keys()].sort());
    expect(m.weights.has('lm_head.weight')).toBe(true);
    expect([...m.weights.get('model.norm.weight')!.data]).toEqual(new Array(8).fill(1));
    const q = m.weights.get('model.layers.0.self_attn.q_proj.weight')!.data;
    const mean = q.reduce((s, x) => s + x, 0) / q.length;
    const std = Math.sqrt(q.reduce((s, x) => s + (x - mean) ** 2, 0) / q.length);
    expect(std).toBeGreaterThan(0.01);
    expect(std).toBeLessThan(0.03);
    const emb = m.weights.get('model.embed_tokens.weight')!.data;
    expect([...emb.subarray(258 * 8, 259 * 8)]).toEqual(new Array(8).fill(0)); // pad row
    initRandomModel({ ...opts, dir: b, seed: 8 });
    expect(readFileSync(join(a, 'model.safetensors')).equals(readFileSync(join(b, 'model.safetensors')))).toBe(false);
  });
  it('initFrom copies matching tensors into a reward model', () => {
    const pol = join(tmp, 'init-a');
    const rm = join(tmp, 'rm');
    const { copied } = initRandomModel({ ...opts, architecture: 'LlamaForSequenceClassification', dir: rm, initFrom: pol, seed: 9 });
    expect(copied).toContain('model.embed_tokens.weight');
    expect(copied).not.toContain('score.weight');
    const r = loadHfModel(rm);
    expect(r.weights.get('score.weight')!.shape).toEqual([1, 8]);
    expect(r.weights.get('model.layers.1.mlp.up_proj.weight')!.data).toEqual(loadHfModel(pol).weights.get('model.layers.1.mlp.up_proj.weight')!.data);
  });
  it('tied models have no lm_head', () => {
    const dir = join(tmp, 'tied');
    initRandomModel({ ...opts, dir, tie_word_embeddings: true });
    const m = loadHfModel(dir);
    expect(m.config.tieWordEmbeddings).toBe(true);
    expect(m.weights.has('lm_head.weight')).toBe(false);
  });
  it('names the file and tensor when a tensor is missing or mis-shaped', () => {
    const src = loadHfModel(join(tmp, 'init-a'));
    const dir = join(tmp, 'broken');
    const w = new Map(src.weights);
    saveHfModel(dir, { config: src.config, weights: w, tokenizerFrom: src.dir });
    const file = join(dir, 'model.safetensors');
    w.delete('model.layers.1.self_attn.k_proj.weight');
    writeSafetensors(file, w);
    expect(() => loadHfModel(dir)).toThrow(/broken\/model\.safetensors: missing tensor "model\.layers\.1\.self_attn\.k_proj\.weight" \(expected shape \[4, 8\]\)/);
    w.set('model.layers.1.self_attn.k_proj.weight', { shape: [8, 4], data: new Float32Array(32) });
    writeSafetensors(file, w);
    expect(() => loadHfModel(dir)).toThrow(/model\.safetensors: tensor "model\.layers\.1\.self_attn\.k_proj\.weight" has shape \[8, 4\], expected \[4, 8\]/);
    expect(() => loadHfModel(join(tmp, 'nope'))).toThrow(/model folder not found/);
  });
});
