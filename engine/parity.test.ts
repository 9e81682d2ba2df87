// Parity with Hugging Face transformers / PyTorch: fixtures made by scripts/parity/make_fixtures.py
// (tiny random Llama models saved by transformers, float64 references) are loaded with the engine.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import type { PairExample } from './train/data';
import { generateWithTokens } from './generate/generate';
import { InferenceModel } from './generate/inference-model';
import { type CheckResult, PARITY_PYTHON, ROUNDTRIP_FILE, type RoundtripInputs, runCheck, writeRoundtripCheckpoints } from '../scripts/parity/roundtrip';
import { dpoObjective, rewardObjective, sequenceLogps, sftObjective } from './train/objectives';

export const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures', 'parity');

export interface ParityExpected {
  rows: PairRow[];
  prompt_ids: number[][];
  chosen_ids: number[][];
  rejected_ids: number[][];
  logps: Record<string, number[]>;
  response_tokens: number[];
  rewards: number[];
  bt_accuracy: number;
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

// ---------------------------------------------------------------- losses and gradients

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

/** max |a − b| / max |b| over a whole tensor (gradients of tiny entries are compared at the tensor's scale). */
function tensorRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-12);
}

function expectGrads(key: string, grads: Map<string, Float32Array>, weights: Weights): number {
  let worst = 0;
  for (const name of weights.keys()) {
    const ref = refTensors.get(`${key}/${name}`);
    if (!ref) throw new Error(`fixture has no gradient ${key}/${name}`);
    const err = tensorRelErr(grads.get(name)!, ref.data);
    worst = Math.max(worst, err);
    expect(err, `${key}: gradient of ${name}`).toBeLessThan(1e-3);
  }
  return worst;
}

const pairsOf = (): PairExample[] =>
  expected.prompt_ids.map((p, i) => ({
    chosen: { promptIds: p, responseIds: expected.chosen_ids[i]! },
    rejected: { promptIds: p, responseIds: expected.rejected_ids[i]! },
  }));

describe('parity: losses and gradients (PyTorch autograd)', () => {
  for (const name of ['causal-untied', 'causal-tied']) {
    it(`SFT ${name}: loss ≤ 1e-5 relative, every gradient ≤ 1e-3 relative`, async () => {
      const model = loadHfModel(join(FIXTURES, name));
      const obj = sftObjective(model.config);
      const out = await obj.run(model.weights, pairsOf().map((p) => p.chosen));
      await obj.release();
      expect(relErr(out.loss, expected.losses[`sft/${name}`]!)).toBeLessThan(1e-5);
      expectGrads(`sft/${name}`, out.grads, model.weights);
    });
  }
  it('Bradley–Terry reward model', async () => {
    const model = loadHfModel(join(FIXTURES, 'reward'));
    const obj = rewardObjective(model.config);
    const out = await obj.run(model.weights, pairsOf());
    await obj.release();
    expect(relErr(out.loss, expected.losses['bt/reward']!)).toBeLessThan(1e-5);
    expect(out.sums!['accuracy']! / 3).toBeCloseTo(expected.bt_accuracy, 12);
    expectGrads('bt/reward', out.grads, model.weights);
  });
  it('DPO reference log-probs (sequence log-prob graph) match', async () => {
    const ref = loadHfModel(join(FIXTURES, 'causal-tied'));
    const pairs = pairsOf();
    const lp = await sequenceLogps(ref.config, ref.weights, [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)], { batchSize: 4 });
    lp.forEach((x, i) => expect(relErr(x, expected.dpo_reference_logps[i]!)).toBeLessThan(1e-5));
  });
  for (const [key, c] of Object.entries(expected.dpo_cases)) {
    it(`${key} (β ${c.beta}, label smoothing ${c.label_smoothing}, rpo_alpha ${c.rpo_alpha})`, async () => {
      const model = loadHfModel(join(FIXTURES, 'causal-untied'));
      const obj = dpoObjective(model.config, { beta: c.beta, labelSmoothing: c.label_smoothing, rpoAlpha: c.rpo_alpha, lossType: c.loss_type });
      const refLp = expected.dpo_reference_logps;
      const items = pairsOf().map((pair, i) => ({ pair, refChosen: refLp[i]!, refRejected: refLp[3 + i]! }));
      const out = await obj.run(model.weights, items);
      await obj.release();
      expect(relErr(out.loss, expected.losses[key]!)).toBeLessThan(1e-5);
      expect(out.sums!['reward_margin']! / 3).toBeCloseTo(expected.dpo_metrics[key]!.margin, 4);
      expect(out.sums!['reward_accuracy']! / 3).toBeCloseTo(expected.dpo_metrics[key]!.accuracy, 12);
      expectGrads(key, out.grads, model.weights);
    });
  }
});

// ---------------------------------------------------------------- engine-written checkpoints read by transformers

describe('parity: engine-written checkpoints load in transformers', () => {
  const recorded = JSON.parse(readFileSync(ROUNDTRIP_FILE, 'utf8')) as { inputs: RoundtripInputs; policy: CheckResult; reward: CheckResult };
  const live = existsSync(PARITY_PYTHON);

  it(`transformers' logits and rewards on a training checkpoint match the engine (${live ? 'live check_checkpoint.py run + recorded' : 'recorded roundtrip.json; no venv here'})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parity-rt-'));
    try {
      const { policy, reward, inputs } = await writeRoundtripCheckpoints(dir);
      expect(inputs).toEqual(recorded.inputs);
      const results = [recorded];
      if (live) {
        const [p, r] = runCheck([policy, reward], inputs);
        results.push({ inputs, policy: p!, reward: r! });
      }
      const pol = loadHfModel(policy);
      const V = pol.config.vocabSize;
      const { data, T } = await forward(pol.weights, policy, 'logits', inputs.rows, pol.config.padTokenId!);
      const rm = loadHfModel(reward);
      const { data: rewards } = await forward(rm.weights, reward, 'rewards', inputs.rows, rm.config.padTokenId!);
      const chat = loadTokenizer(policy).encode(loadTokenizer(policy).applyChatTemplate(inputs.messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
      for (const r of results) {
        expect(r.policy.architecture).toBe('LlamaForCausalLM');
        expect(r.reward.architecture).toBe('LlamaForSequenceClassification');
        expect(r.policy.config['num_key_value_heads']).toBe(2);
        expect(r.policy.chat_ids).toEqual(chat);
        let worst = 0;
        inputs.rows.forEach((row, b) => {
          const ref = r.policy.logits![b]!;
          expect(ref.length).toBe(row.length);
          ref.forEach((pos, t) => (worst = Math.max(worst, maxAbsErr(data.subarray((b * T + t) * V, (b * T + t + 1) * V), pos))));
        });
        expect(worst).toBeLessThan(1e-4);
        expect(maxAbsErr(rewards, r.reward.rewards!)).toBeLessThan(1e-4);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------- greedy decoding (engine/generate vs HF generate)

describe('parity: greedy continuations', () => {
  for (const name of ['causal-untied', 'causal-tied']) {
    it(`${name}: engine generate at temperature 0 == HF generate(do_sample=False)`, async () => {
      const model = InferenceModel.load(join(FIXTURES, name));
      try {
        const { tokenIds } = await generateWithTokens(
          model,
          expected.rows.map((r) => r.prompt),
          { n: 1, temperatures: [0], maxNewTokens: 12, seed: 'greedy' },
        );
        const want = expected.greedy.filter((g) => g.model === name);
        expect(want.length).toBe(3);
        want.forEach((g, i) => {
          expect(model.tokenizer.renderPrompt(expected.rows[i]!.prompt)).toEqual(g.prompt_ids);
          expect(tokenIds[i]![0]).toEqual(g.new_ids);
        });
      } finally {
        await model.release();
      }
    });
  }
});
