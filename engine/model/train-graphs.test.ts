import { afterAll, describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../hf/config';
import type { DpoParams } from '../losses/dpo';
import { createSession, tensor, toNumbers } from '../onnx/session';
import { referenceForward } from './reference';
import { fdCheck, lmBatch, randomWeights, tinyConfig, weightFeeds } from './testing';
import { buildDpoTrainGraph, buildLogProbGraph, buildRewardTrainGraph, buildSftTrainGraph, gradName } from './train-graphs';

const sftRows = [
  { prompt: [1, 3, 4], response: [5, 6, 2] },
  { prompt: [1, 7], response: [8, 2] },
  { prompt: [1, 9, 10, 3], response: [4, 4, 2] },
];
const pairRows = [
  // chosen rows, then rejected rows (pair i = rows i and P+i)
  { prompt: [1, 3, 4], response: [5, 6, 2] },
  { prompt: [1, 7], response: [8, 2] },
  { prompt: [1, 3, 4], response: [9, 2] },
  { prompt: [1, 7], response: [3, 3, 10, 2] },
];

const TOL = 1e-3;
const figures: string[] = [];
afterAll(() => console.log(`finite-difference figures (max relative error per tensor, directional):\n${figures.join('\n')}`));

const llama3 = tinyConfig({
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  headDim: 4,
  ropeTheta: 500000,
  ropeScaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 },
});
const lmConfigs: [string, LlamaConfig][] = [
  ['GQA (2 kv heads), untied', tinyConfig()],
  ['tied embeddings', tinyConfig({ tieWordEmbeddings: true })],
  ['llama3 rope scaling', llama3],
];

describe('training graphs: gradients w.r.t. every weight vs finite differences (float64)', () => {
  for (const [name, cfg] of lmConfigs) {
    it(`SFT — ${name}`, async () => {
      const tg = buildSftTrainGraph(cfg, { dtype: 'float64' });
      const b = lmBatch(sftRows, 7);
      const w = randomWeights(cfg, 11);
      const r = await fdCheck(tg, b.feeds, w, 1);
      figures.push(`${expect.getState().currentTestName}: per-tensor ${r.maxRelErr.toExponential(2)} (${r.worst}), directional ${r.directional.toExponential(2)}`);
      expect(r.maxRelErr, `worst ${r.worst}`).toBeLessThan(TOL);
      expect(r.directional).toBeLessThan(TOL);
      // The loss equals the mean NLL computed from the plain-JS reference logits.
      const s = await createSession(tg.toBytes(), { optimization: 'basic' });
      const out = await s.run({ ...b.feeds, ...weightFeeds(tg.graph, w) });
      await s.release();
      const ref = referenceForward(cfg, w, b.ids, b.mask, b.ids.map((r0) => r0.map((_, t) => t)), 'lm');
      let nll = 0;
      let n = 0;
      b.ids.forEach((_, bi) =>
        b.lossMask[bi]!.forEach((m, t) => {
          if (!m) return;
          const z = Array.from(ref.logits[bi]!.slice(t * cfg.vocabSize, (t + 1) * cfg.vocabSize));
          const mx = Math.max(...z);
          const lse = mx + Math.log(z.reduce((acc, v) => acc + Math.exp(v - mx), 0));
          nll += lse - z[b.targets[bi]![t]!]!;
          n++;
        }),
      );
      expect(toNumbers(out['loss']!)[0]).toBeCloseTo(nll / n, 10);
      expect(toNumbers(out['tokens']!)[0]).toBe(n);
    });
  }

  const dpoCases: [string, LlamaConfig, DpoParams][] = [
    ['sigmoid, GQA untied', tinyConfig(), { beta: 0.5, labelSmoothing: 0, lossType: 'sigmoid', rpoAlpha: 0 }],
    ['sigmoid + label smoothing + RPO, tied', tinyConfig({ tieWordEmbeddings: true }), { beta: 0.1, labelSmoothing: 0.1, lossType: 'sigmoid', rpoAlpha: 1 }],
    ['IPO, llama3 rope', llama3, { beta: 0.2, labelSmoothing: 0, lossType: 'ipo', rpoAlpha: 0 }],
  ];
  for (const [name, cfg, params] of dpoCases) {
    it(`DPO — ${name}`, async () => {
      const tg = buildDpoTrainGraph(cfg, params, { dtype: 'float64' });
      const b = lmBatch(pairRows, 7);
      const w = randomWeights(cfg, 12);
      const feeds = {
        ...b.feeds,
        ref_chosen_logps: tensor('float64', [-9.5, -4.25], [2]),
        ref_rejected_logps: tensor('float64', [-6.5, -12], [2]),
      };
      const r = await fdCheck(tg, feeds, w, 2);
      figures.push(`${expect.getState().currentTestName}: per-tensor ${r.maxRelErr.toExponential(2)} (${r.worst}), directional ${r.directional.toExponential(2)}`);
      expect(r.maxRelErr, `worst ${r.worst}`).toBeLessThan(TOL);
      expect(r.directional).toBeLessThan(TOL);
    });
  }

  for (const [name, over] of [
    ['GQA, pad_token_id pooling', {}],
    ['MHA, attention_mask pooling (no pad id)', { numKeyValueHeads: 4, padTokenId: null }],
  ] as [string, Partial<LlamaConfig>][]) {
    it(`reward model (Bradley–Terry) — ${name}`, async () => {
      const cfg = tinyConfig({ architecture: 'LlamaForSequenceClassification', ...over });
      const tg = buildRewardTrainGraph(cfg, { dtype: 'float64' });
      const b = lmBatch(pairRows, 7);
      const { targets: _t, loss_mask: _m, ...feeds } = b.feeds;
      const w = randomWeights(cfg, 13);
      const r = await fdCheck(tg, feeds, w, 3);
      figures.push(`${expect.getState().currentTestName}: per-tensor ${r.maxRelErr.toExponential(2)} (${r.worst}), directional ${r.directional.toExponential(2)}`);
      expect(r.maxRelErr, `worst ${r.worst}`).toBeLessThan(TOL);
      expect(r.directional).toBeLessThan(TOL);
      // Rewards equal the reference's pooled scores.
      const s = await createSession(tg.toBytes(), { optimization: 'basic' });
      const out = await s.run({ ...feeds, ...weightFeeds(tg.graph, w) });
      await s.release();
      const ref = referenceForward(cfg, w, b.ids, b.mask, b.ids.map((r0) => r0.map((_, t) => t)), 'score');
      const got = [...toNumbers(out['chosen_rewards']!), ...toNumbers(out['rejected_rewards']!)];
      got.forEach((v, i) => expect(v).toBeCloseTo(ref.rewards[i]![0]!, 10));
    });
  }
});

describe('log-prob graph', () => {
  it('matches the DPO graph policy log-probs and float32 agrees with float64', async () => {
    const cfg = tinyConfig();
    const w = randomWeights(cfg, 21);
    const b = lmBatch(pairRows, 7);
    const lp64 = buildLogProbGraph(cfg, { dtype: 'float64', tokenLogps: true });
    const s64 = await createSession(lp64.graph.toBytes(), { optimization: 'basic' });
    const r64 = await s64.run({ ...b.feeds, ...weightFeeds(lp64.graph, w) });
    const dpo = buildDpoTrainGraph(cfg, { beta: 0.1, labelSmoothing: 0, lossType: 'sigmoid', rpoAlpha: 0 }, { dtype: 'float64' });
    const sd = await createSession(dpo.toBytes(), { optimization: 'basic' });
    const logps = toNumbers(r64['logps']!);
    const rd = await sd.run({
      ...b.feeds,
      ref_chosen_logps: tensor('float64', logps.slice(0, 2), [2]),
      ref_rejected_logps: tensor('float64', logps.slice(2), [2]),
      ...weightFeeds(dpo.graph, w),
    });
    expect([...toNumbers(rd['chosen_logps']!), ...toNumbers(rd['rejected_logps']!)]).toEqual(logps);
    // Policy == reference: zero rewards, loss = log 2.
    expect(toNumbers(rd['loss']!)[0]).toBeCloseTo(Math.log(2), 12);
    expect(r64['token_logps']!.dims).toEqual([4, 7]);

    const lp32 = buildLogProbGraph(cfg, { dtype: 'float32', weightsAs: 'initializers', weights: (n) => Float32Array.from(w.get(n)!) });
    const s32 = await createSession(lp32.graph.toBytes());
    const { loss_mask: lm, ...rest } = b.feeds;
    const r32 = await s32.run({ ...rest, loss_mask: tensor('float32', toNumbers(lm!), [4, 7]) });
    toNumbers(r32['logps']!).forEach((v, i) => expect(Math.abs(v - logps[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(logps[i]!))));
    await Promise.all([s64.release(), sd.release(), s32.release()]);
  });

  it('float32 training graph runs with full optimization and matches float64 gradients', async () => {
    const cfg = tinyConfig();
    const w = randomWeights(cfg, 5);
    const b = lmBatch(sftRows, 7);
    const t64 = buildSftTrainGraph(cfg, { dtype: 'float64' });
    const t32 = buildSftTrainGraph(cfg, { dtype: 'float32' });
    const s64 = await createSession(t64.toBytes(), { optimization: 'basic' });
    const s32 = await createSession(t32.toBytes(), { optimization: 'all' });
    const r64 = await s64.run({ ...b.feeds, ...weightFeeds(t64.graph, w) });
    const { loss_mask: lm, ...rest } = b.feeds;
    const r32 = await s32.run({ ...rest, loss_mask: tensor('float32', toNumbers(lm!), [3, 7]), ...weightFeeds(t32.graph, w) });
    for (const name of t64.trainableNames) {
      const a = toNumbers(r64[gradName(name)]!);
      const c = toNumbers(r32[gradName(name)]!);
      const scale = Math.max(...a.map(Math.abs), 1e-12);
      const err = Math.max(...a.map((v, i) => Math.abs(v - c[i]!))) / scale;
      expect(err, name).toBeLessThan(1e-4);
    }
    await Promise.all([s64.release(), s32.release()]);
  });
});
