// Over-long prompts through the real engine (a tiny byte-level Llama with max_position_embeddings 64):
// generation, log-probs and RM scoring of a prompt far past the context either succeed within the context
// or fail with EngineInputError naming the limit — never a crash, a hang or an ORT shape error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engine } from '../../engine';
import { ENGINE_INPUT_ERROR, type PolicyModel, type RewardModel } from '../../engine/api';

const root = mkdtempSync(join(tmpdir(), 'rlhf-overlong-'));
const shape = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, tokenizer: 'byte' as const };
let policy: PolicyModel;
let rm: RewardModel;

beforeAll(async () => {
  await engine.initModel({ ...shape, dir: join(root, 'policy'), architecture: 'LlamaForCausalLM', seed: 1 });
  await engine.initModel({ ...shape, dir: join(root, 'rm'), architecture: 'LlamaForSequenceClassification', seed: 2 });
  policy = await engine.loadPolicy(join(root, 'policy'));
  rm = await engine.loadRewardModel(join(root, 'rm'));
}, 120_000);

afterAll(async () => {
  await policy?.release();
  await rm?.release();
  rmSync(root, { recursive: true, force: true });
});

/** Resolves to 'ok' or the EngineInputError message; any other failure fails the test. */
async function okOrInputError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    expect((err as Error).name, (err as Error).message).toBe(ENGINE_INPUT_ERROR);
    return (err as Error).message;
  }
}

describe('over-long prompts', () => {
  const long = 'digits 0123456789 '.repeat(40); // 720 bytes ≫ 64 positions
  const chat = [{ role: 'user', content: long }];

  it('promptLength reports the true length', () => {
    expect(policy.promptLength(long)).toBeGreaterThan(64);
  });

  it('generate, logProbs and score: success within the context or EngineInputError', async () => {
    const outcomes = [
      await okOrInputError(policy.generate([long], { n: 2, temperatures: [1], maxNewTokens: 4, seed: 's' })),
      await okOrInputError(policy.generate([chat], { n: 1, temperatures: [1], maxNewTokens: 4, seed: 's' })),
      await okOrInputError(policy.logProbs([{ prompt: long, response: 'abc' }])),
      await okOrInputError(rm.score([{ prompt: long, response: 'abc' }])),
      await okOrInputError(rm.score([{ prompt: 'p', response: long }])),
    ];
    for (const o of outcomes) if (o !== 'ok') expect(o).toMatch(/\d/); // names the length/limit
    // The models still work afterwards (no poisoned session).
    const [g] = await policy.generate(['12 34'], { n: 1, temperatures: [1], maxNewTokens: 4, seed: 's' });
    expect(g?.responses).toHaveLength(1);
  }, 120_000);
});
