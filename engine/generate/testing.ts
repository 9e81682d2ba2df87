// Tiny random models on disk for the engine's generation/scoring tests and the benchmark.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InitModelOptionsExt, initRandomModel } from '../hf/checkpoint';

export function tinyModelDir(
  over: Partial<InitModelOptionsExt> = {},
): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'engine-gen-'));
  const dir = join(root, 'model');
  initRandomModel({
    dir,
    architecture: 'LlamaForCausalLM',
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 96,
    tokenizer: 'byte',
    seed: 7,
    // Large weights make the distributions peaked, so sampled texts differ visibly between seeds.
    initializer_range: 0.3,
    ...over,
  });
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
