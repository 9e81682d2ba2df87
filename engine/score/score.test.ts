import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { padBatch, scoreRewards, sequenceLogProbs, tokenizeItem } from './score';
import { InferenceModel } from '../generate/inference-model';
import { buildLlamaGraph } from '../model/llama';
import { createSession } from '../onnx';
import { loadHfModel } from '../hf/checkpoint';
import { tinyModelDir } from '../generate/testing';
import { EngineInputError } from '../errors';
import type { ScoreItem } from '../api';

const rmFixture = tinyModelDir({ architecture: 'LlamaForSequenceClassification', seed: 11 });
const lmFixture = tinyModelDir({ seed: 12 });
let rm: InferenceModel;
let lm: InferenceModel;

beforeAll(() => {
  rm = InferenceModel.load(rmFixture.dir, { expect: 'score' });
  lm = InferenceModel.load(lmFixture.dir, { expect: 'lm' });
});
afterAll(async () => {
  await rm.release();
  await lm.release();
  rmFixture.cleanup();
  lmFixture.cleanup();
});

const items: ScoreItem[] = [
  { prompt: 'Q', response: 'a' },
  { prompt: 'A somewhat longer question?', response: 'and a longer answer than the others' },
  { prompt: [{ role: 'user', content: 'chat' }], response: 'reply' },
  { prompt: 'Q', response: '' },
];

describe('RewardModel scoring', () => {
  it('reads the reward at the last non-pad token: batched (right or left padding) = one at a time', async () => {
    const single: number[] = [];
    for (const it of items) single.push((await scoreRewards(rm, [it]))[0]!);
    const right = await scoreRewards(rm, items, { batchSize: 4, padding: 'right' });
    const left = await scoreRewards(rm, items, { batchSize: 4, padding: 'left' });
    for (let i = 0; i < items.length; i++) {
      expect(Math.abs(right[i]! - single[i]!)).toBeLessThan(1e-5);
      expect(Math.abs(left[i]! - single[i]!)).toBeLessThan(1e-5);
    }
    // Scores depend on the response: the rewards are not all the same.
    expect(new Set(single.map((x) => x.toFixed(6))).size).toBe(items.length);
  });

  it('depends on the last token; items are prompt ++ response ++ eos', async () => {
    const base = { prompt: 'Q', response: 'abc' };
    const [r0, r1] = await scoreRewards(rm, [base, { prompt: 'Q', response: 'abd' }]);
    expect(r0).not.toBeCloseTo(r1!, 6);
    // Sanity of tokenization: prompt ++ response ++ eos.
    const t = tokenizeItem(rm, base, 0);
    expect(t.ids.at(-1)).toBe(rm.tokenizer.eosTokenId);
    expect(t.ids.slice(t.responseStart, -1)).toEqual(rm.tokenizer.encodeResponse('abc', { appendEos: false }));
  });

  it('refuses a policy as a reward model and names bad items', async () => {
    expect(() => InferenceModel.load(lmFixture.dir, { expect: 'score' })).toThrow(EngineInputError);
    await expect(scoreRewards(rm, [{ prompt: 'x'.repeat(200), response: 'y' }])).rejects.toThrow(/item 0: the prompt has 201 tokens/);
    await expect(scoreRewards(rm, [{ prompt: 'x', response: 3 } as unknown as ScoreItem])).rejects.toThrow(EngineInputError);
  });
});

describe('PolicyModel log-probs', () => {
  it('equal Σ log-softmax of a full forward over the response tokens (eos included)', async () => {
    const hf = loadHfModel(lmFixture.dir);
    const { graph } = buildLlamaGraph(hf.config, { weightsAs: 'initializers', weights: (n) => hf.weights.get(n)!.data, logits: 'all' });
    const full = await createSession(graph.toBytes());
    try {
      const got = await sequenceLogProbs(lm, items, { batchSize: 4 });
      for (let i = 0; i < items.length; i++) {
        const { ids, responseStart } = tokenizeItem(lm, items[i]!, i);
        const out = await full.run(padBatch([ids], 0, 'right').feeds);
        const z = out['logits']!.data as Float32Array;
        const V = z.length / ids.length;
        let want = 0;
        for (let k = responseStart; k < ids.length; k++) {
          const off = (k - 1) * V;
          let m = -Infinity;
          for (let v = 0; v < V; v++) m = Math.max(m, z[off + v]!);
          let sum = 0;
          for (let v = 0; v < V; v++) sum += Math.exp(z[off + v]! - m);
          want += z[off + ids[k]!]! - m - Math.log(sum);
        }
        expect(Math.abs(got[i]! - want)).toBeLessThan(1e-4);
      }
    } finally {
      await full.release();
    }
  });

  it('batched = one at a time, right or left padding', async () => {
    const single: number[] = [];
    for (const it of items) single.push((await sequenceLogProbs(lm, [it]))[0]!);
    const right = await sequenceLogProbs(lm, items, { batchSize: 3 });
    const left = await sequenceLogProbs(lm, items, { batchSize: 4, padding: 'left' });
    for (let i = 0; i < items.length; i++) {
      expect(Math.abs(right[i]! - single[i]!)).toBeLessThan(1e-4);
      expect(Math.abs(left[i]! - single[i]!)).toBeLessThan(1e-4);
      expect(single[i]!).toBeLessThan(0);
    }
  });
});
