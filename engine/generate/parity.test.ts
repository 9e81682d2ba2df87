// Greedy continuations identical to Hugging Face `generate(do_sample=False)` on the parity fixtures
// (test/fixtures/parity, made by scripts/parity/make_fixtures.py with torch + transformers).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Prompt } from '../api';
import { generateWithTokens } from './generate';
import { InferenceModel } from './inference-model';
import { scoreRewards, sequenceLogProbs } from '../score/score';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/parity/', import.meta.url));
const expected = JSON.parse(readFileSync(`${FIXTURES}expected.json`, 'utf8')) as {
  rows: { prompt: Prompt; chosen: string; rejected: string }[];
  logps: Record<string, number[]>;
  rewards: number[];
  prompt_ids: number[][];
  greedy: { model: string; prompt_ids: number[]; new_ids: number[] }[];
};

// Chosen rows then rejected rows, as the fixture's logps / rewards.
const items = [
  ...expected.rows.map((r) => ({ prompt: r.prompt, response: r.chosen })),
  ...expected.rows.map((r) => ({ prompt: r.prompt, response: r.rejected })),
];

describe('scoring = HF (parity fixtures, float64 references)', () => {
  for (const model of Object.keys(expected.logps)) {
    it(`${model}: sequence log-probs of chosen/rejected responses`, async () => {
      const m = InferenceModel.load(`${FIXTURES}${model}`);
      try {
        const got = await sequenceLogProbs(m, items, { batchSize: 4 });
        got.forEach((x, i) => expect(Math.abs(x - expected.logps[model]![i]!)).toBeLessThan(2e-4 * Math.max(1, Math.abs(expected.logps[model]![i]!))));
      } finally {
        await m.release();
      }
    });
  }
  it('reward model: score at the last non-pad token', async () => {
    const m = InferenceModel.load(`${FIXTURES}reward`, { expect: 'score' });
    try {
      const got = await scoreRewards(m, items, { batchSize: 6 });
      got.forEach((x, i) => expect(Math.abs(x - expected.rewards[i]!)).toBeLessThan(1e-4));
    } finally {
      await m.release();
    }
  });
});

describe('greedy generation = HF generate (parity fixtures)', () => {
  for (const model of [...new Set(expected.greedy.map((g) => g.model))]) {
    it(`${model}: same prompt ids and same new tokens, batched and one by one`, async () => {
      const m = InferenceModel.load(`${FIXTURES}${model}`);
      try {
        const cases = expected.greedy.filter((g) => g.model === model);
        const prompts = cases.map((c) => {
          const k = expected.prompt_ids.findIndex((p) => p.join() === c.prompt_ids.join());
          expect(k).toBeGreaterThanOrEqual(0);
          const prompt = expected.rows[k]!.prompt;
          expect(m.tokenizer.renderPrompt(prompt)).toEqual(c.prompt_ids);
          return prompt;
        });
        const maxNewTokens = Math.max(...cases.map((c) => c.new_ids.length));
        const opts = { n: 1, temperatures: [0], maxNewTokens, seed: 'parity' };
        const batched = await generateWithTokens(m, prompts, opts);
        cases.forEach((c, i) => expect(batched.tokenIds[i]![0]).toEqual(c.new_ids));
        for (let i = 0; i < cases.length; i++) {
          const alone = await generateWithTokens(m, [prompts[i]!], opts);
          expect(alone.tokenIds[0]![0]).toEqual(cases[i]!.new_ids);
        }
      } finally {
        await m.release();
      }
    });
  }
});
