// Parity with Hugging Face transformers / PyTorch: fixtures made by scripts/parity/make_fixtures.py
// (tiny random Llama models saved by transformers, float64 references) are loaded with the engine.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHfModel, type Weights } from './hf/checkpoint';
import { readSafetensors } from './hf/safetensors';
import { buildLlamaGraph } from './model/llama';
import { createSession, tensor } from './onnx/session';
import { adamWStep, createAdamWState } from './optim/adamw';
import { clipGradNorm } from './optim/clip';
import { lrMultiplier } from './optim/schedule';
import { loadTokenizer } from './tokenizer/tokenizer';
import type { PairRow } from './api';

export const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures', 'parity');

export interface ParityExpected {
  rows: PairRow[];
  prompt_ids: number[][];
  chosen_ids: number[][];
  rejected_ids: number[][];
  logps: Record<string, number[]>;
  response_tokens: number[];
  rewards: number[];
  greedy: { model: string; prompt_ids: number[]; new_ids: number[] }[];
  losses: Record<string, number>;
  dpo_reference_logps: number[];
  dpo_cases: Record<string, { beta: number; label_smoothing: number; rpo_alpha: number; loss_type: 'sigmoid' | 'ipo' }>;
  dpo_metrics: Record<string, { margin: number; accuracy: number }>;
  adamw: { lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; init: number[]; grads: number[][]; params: number[][] };
  clip: { max_norm: number; grads: number[][]; total_norm: number; clipped: number[][] };
  schedules: { warmup: number; total: number; lrs: Record<'cosine' | 'linear' | 'constant', number[]> };
}

export const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as ParityExpected;
export const refTensors = readSafetensors(join(FIXTURES, 'tensors.safetensors')).tensors;

/** The six fixed sequences: chosen rows 0–2 then rejected rows 3–5. */
export function fixtureSequences(): { seqs: number[][]; promptLens: number[] } {
  const seqs = [
    ...expected.prompt_ids.map((p, i) => [...p, ...expected.chosen_ids[i]!]),
    ...expected.prompt_ids.map((p, i) => [...p, ...expected.rejected_ids[i]!]),
  ];
  return { seqs, promptLens: [...expected.prompt_ids, ...expected.prompt_ids].map((p) => p.length) };
}

/** Right-padded forward through the engine's inference graph; returns the named output. */
async function forward(weights: Weights, dir: string, output: 'logits' | 'rewards', rows: number[][], pad: number): Promise<{ data: Float32Array; T: number }> {
  const { config } = loadHfModel(dir);
  const { graph } = buildLlamaGraph(config, { weightsAs: 'inputs' });
  const session = await createSession(graph.toBytes(), { optimization: 'all' });
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.length));
  const ids: number[] = [];
  const mask: number[] = [];
  const pos: number[] = [];
  for (const r of rows) for (let t = 0; t < T; t++) {
    ids.push(t < r.length ? r[t]! : pad);
    mask.push(t < r.length ? 1 : 0);
    pos.push(t);
  }
  const feeds: Record<string, ReturnType<typeof tensor>> = {
    input_ids: tensor('int64', ids, [B, T]),
    attention_mask: tensor('int64', mask, [B, T]),
    position_ids: tensor('int64', pos, [B, T]),
  };
  for (const [name, w] of weights) feeds[name] = tensor('float32', w.data, w.shape);
  const out = await session.run(feeds);
  await session.release();
  return { data: out[output]!.data as Float32Array, T };
}

function maxAbsErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('parity: tokenization', () => {
  it('renders prompts and responses to the same ids as transformers', () => {
    const tok = loadTokenizer(join(FIXTURES, 'causal-untied'));
    expected.rows.forEach((row, i) => {
      expect(tok.renderPrompt(row.prompt)).toEqual(expected.prompt_ids[i]);
      expect(tok.encodeResponse(row.chosen)).toEqual(expected.chosen_ids[i]);
      expect(tok.encodeResponse(row.rejected)).toEqual(expected.rejected_ids[i]);
    });
  });
});

describe('parity: forward', () => {
  const { seqs, promptLens } = fixtureSequences();
  for (const name of ['causal-untied', 'causal-tied']) {
    it(`${name}: logits within 1e-4 and sequence log-probs of transformers`, async () => {
      const dir = join(FIXTURES, name);
      const model = loadHfModel(dir);
      const { data, T } = await forward(model.weights, dir, 'logits', seqs, model.config.padTokenId ?? 0);
      const V = model.config.vocabSize;
      let worst = 0;
      seqs.forEach((s, b) => {
        const ref = refTensors.get(`${name}/logits/${b}`)!;
        expect(ref.shape).toEqual([s.length, V]);
        worst = Math.max(worst, maxAbsErr(data.subarray(b * T * V, (b * T + s.length) * V), ref.data));
        // summed log-probs of the response tokens
        let lp = 0;
        for (let t = promptLens[b]!; t < s.length; t++) {
          const row = data.subarray((b * T + t - 1) * V, (b * T + t) * V);
          let mx = -Infinity;
          for (const x of row) mx = Math.max(mx, x);
          let z = 0;
          for (const x of row) z += Math.exp(x - mx);
          lp += row[s[t]!]! - mx - Math.log(z);
        }
        expect(Math.abs(lp - expected.logps[name]![b]!) / Math.abs(expected.logps[name]![b]!)).toBeLessThan(1e-5);
      });
      expect(worst).toBeLessThan(1e-4);
    });
  }
  it('reward model: rewards at the last non-pad token within 1e-4', async () => {
    const dir = join(FIXTURES, 'reward');
    const model = loadHfModel(dir);
    const { data } = await forward(model.weights, dir, 'rewards', seqs, model.config.padTokenId ?? 0);
    expect(maxAbsErr(data, expected.rewards)).toBeLessThan(1e-4);
  });
});

describe('parity: optimizer', () => {
  it('AdamW matches torch.optim.AdamW over 4 steps', () => {
    const a = expected.adamw;
    const params = new Map([['p', { data: Float32Array.from(a.init) }]]);
    const state = createAdamWState(params);
    a.grads.forEach((g, k) => {
      adamWStep(params, new Map([['p', Float32Array.from(g)]]), state, a.lr, { beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weight_decay });
      expect(maxAbsErr(params.get('p')!.data, a.params[k]!)).toBeLessThan(1e-6);
    });
  });
  it('clip_grad_norm matches torch', () => {
    const c = expected.clip;
    const grads = new Map(c.grads.map((g, i) => [String(i), Float32Array.from(g)]));
    expect(clipGradNorm(grads, c.max_norm)).toBeCloseTo(c.total_norm, 5);
    c.clipped.forEach((g, i) => expect(maxAbsErr(grads.get(String(i))!, g)).toBeLessThan(1e-6));
  });
  it('schedules match transformers get_*_schedule_with_warmup', () => {
    const s = expected.schedules;
    for (const kind of ['cosine', 'linear', 'constant'] as const) {
      s.lrs[kind].forEach((lr, step) => expect(lrMultiplier(kind, step, s.total, s.warmup)).toBeCloseTo(lr, 12));
    }
  });
});
