import { describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../hf/config';
import type { DpoParams } from '../losses/dpo';
import type { ort } from '../onnx/session';
import { createSession, tensor, toNumbers } from '../onnx/session';
import { referenceForward } from './reference';
import { mulberry32, randomWeights, tinyConfig, weightFeeds } from './testing';
import type { TrainGraph } from './train-graphs';
import { buildDpoTrainGraph, buildLogProbGraph, buildRewardTrainGraph, buildSftTrainGraph, gradName } from './train-graphs';

const PAD = 0;

/** Right-padded batch with targets = ids shifted left and loss_mask on response targets. */
function lmBatch(rows: { prompt: number[]; response: number[] }[], T: number): { feeds: Record<string, ort.Tensor>; ids: number[][]; mask: number[][]; targets: number[][]; lossMask: number[][] } {
  const ids: number[][] = [];
  const mask: number[][] = [];
  const targets: number[][] = [];
  const lossMask: number[][] = [];
  for (const r of rows) {
    const seq = [...r.prompt, ...r.response];
    ids.push(Array.from({ length: T }, (_, t) => seq[t] ?? PAD));
    mask.push(Array.from({ length: T }, (_, t) => (t < seq.length ? 1 : 0)));
    targets.push(Array.from({ length: T }, (_, t) => seq[t + 1] ?? PAD));
    lossMask.push(Array.from({ length: T }, (_, t) => (t + 1 >= r.prompt.length && t + 1 < seq.length ? 1 : 0)));
  }
  const B = rows.length;
  const pos = ids.map(() => Array.from({ length: T }, (_, t) => t));
  return {
    ids,
    mask,
    targets,
    lossMask,
    feeds: {
      input_ids: tensor('int64', ids.flat(), [B, T]),
      attention_mask: tensor('int64', mask.flat(), [B, T]),
      position_ids: tensor('int64', pos.flat(), [B, T]),
      targets: tensor('int64', targets.flat(), [B, T]),
      loss_mask: tensor('float64', lossMask.flat(), [B, T]),
    },
  };
}

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

interface FdReport {
  maxRelErr: number;
  worst: string;
  directional: number;
}

/**
 * Checks the graph's gradient outputs against central differences of its `loss`: per weight, the 2 largest
 * and 2 random coordinates; plus one directional derivative along a random direction over all weights.
 */
async function fdCheck(tg: TrainGraph, batch: Record<string, ort.Tensor>, w: Map<string, Float64Array>, seed: number): Promise<FdReport> {
  const sess = await createSession(tg.toBytes(), { optimization: 'basic' });
  const run = async (ws: Map<string, Float64Array>): Promise<Record<string, ort.Tensor>> =>
    sess.run({ ...batch, ...weightFeeds(tg.graph, ws) });
  const lossAt = async (ws: Map<string, Float64Array>): Promise<number> => toNumbers((await run(ws))['loss']!)[0]!;
  const base = await run(w);
  const rnd = mulberry32(seed);
  const eps = 1e-6;
  let maxRelErr = 0;
  let worst = '';
  for (const name of tg.trainableNames) {
    const a = toNumbers(base[gradName(name)]!);
    const order = a.map((v, i) => [Math.abs(v), i] as const).sort((x, y) => y[0] - x[0]);
    const coords = [order[0]![1], order[1]![1], Math.floor(rnd() * a.length), Math.floor(rnd() * a.length)];
    let num = 0;
    let den = 0;
    for (const c of coords) {
      const arr = w.get(name)!;
      const x0 = arr[c]!;
      arr[c] = x0 + eps;
      const lp = await lossAt(w);
      arr[c] = x0 - eps;
      const lm = await lossAt(w);
      arr[c] = x0;
      const fd = (lp - lm) / (2 * eps);
      num = Math.max(num, Math.abs(fd - a[c]!));
      den = Math.max(den, Math.abs(fd), Math.abs(a[c]!));
    }
    const e = den === 0 ? 0 : num / den;
    if (e >= maxRelErr) {
      maxRelErr = e;
      worst = name;
    }
  }
  // Directional derivative along a random direction v over every trainable weight.
  const dir = new Map<string, Float64Array>();
  let dot = 0;
  for (const name of tg.trainableNames) {
    const a = toNumbers(base[gradName(name)]!);
    const v = Float64Array.from(a, () => rnd() * 2 - 1);
    dir.set(name, v);
    a.forEach((x, i) => (dot += x * v[i]!));
  }
  const shifted = (s: number): Map<string, Float64Array> =>
    new Map([...w].map(([k, arr]) => [k, dir.has(k) ? arr.map((x, i) => x + s * dir.get(k)![i]!) : arr]));
  const fdDir = ((await lossAt(shifted(eps))) - (await lossAt(shifted(-eps)))) / (2 * eps);
  await sess.release();
  return { maxRelErr, worst, directional: Math.abs(fdDir - dot) / Math.max(Math.abs(dot), 1e-12) };
}

const TOL = 1e-3;
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
