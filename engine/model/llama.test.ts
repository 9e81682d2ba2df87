import { describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../hf/config';
import { createSession, tensor, toNumbers } from '../onnx/session';
import { buildLlamaGraph } from './llama';
import { referenceForward } from './reference';
import { batchFeeds, randomWeights, tinyConfig, weightFeeds } from './testing';

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-12);
}

const rows = [
  [3, 4, 5, 6, 7],
  [8, 9, 10],
];

const cases: [string, LlamaConfig][] = [
  ['GQA untied', tinyConfig()],
  ['tied, MHA', tinyConfig({ tieWordEmbeddings: true, numKeyValueHeads: 4 })],
  [
    'llama3 rope scaling, head_dim 4',
    tinyConfig({
      hiddenSize: 8,
      numAttentionHeads: 2,
      numKeyValueHeads: 1,
      headDim: 4,
      ropeTheta: 500000,
      ropeScaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 },
    }),
  ],
  ['sequence classification', tinyConfig({ architecture: 'LlamaForSequenceClassification' })],
];

describe('Llama graph forward vs plain-JS reference', () => {
  for (const [name, cfg] of cases) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`${name} (${dtype})`, async () => {
        const w = randomWeights(cfg, 7);
        const { graph } = buildLlamaGraph(cfg, { dtype });
        const sess = await createSession(graph.toBytes(), { optimization: dtype === 'float64' ? 'basic' : 'all' });
        const b = batchFeeds(rows, 5);
        const r = await sess.run({ ...b.feeds, ...weightFeeds(graph, w) });
        const head = cfg.architecture === 'LlamaForSequenceClassification' ? 'score' : 'lm';
        const ref = referenceForward(cfg, w, b.ids, b.mask, b.pos, head);
        const tol = dtype === 'float64' ? 1e-10 : 1e-4;
        if (head === 'lm') {
          const got = toNumbers(r['logits']!);
          expect(r['logits']!.dims).toEqual([2, 5, cfg.vocabSize]);
          // Compare only non-pad positions (pad queries are never used).
          const V = cfg.vocabSize;
          rows.forEach((row, bi) => {
            const n = row.length * V;
            expect(maxRelErr(got.slice(bi * 5 * V, bi * 5 * V + n), ref.logits[bi]!.slice(0, n))).toBeLessThan(tol);
          });
        } else {
          expect(r['rewards']!.dims).toEqual([2, 1]);
          expect(maxRelErr(toNumbers(r['rewards']!), ref.rewards.flat())).toBeLessThan(tol);
        }
        await sess.release();
      });
    }
  }

  it('KV cache: prefix + one step equals the full forward (last logits, new and full presents)', async () => {
    const cfg = tinyConfig();
    const w = randomWeights(cfg, 3);
    const full = buildLlamaGraph(cfg, { dtype: 'float64', logits: 'last' });
    const cached = buildLlamaGraph(cfg, { dtype: 'float64', logits: 'last', kvCache: { present: 'full' } });
    const step = buildLlamaGraph(cfg, { dtype: 'float64', logits: 'last', kvCache: { present: 'new' } });
    const sFull = await createSession(full.graph.toBytes(), { optimization: 'basic' });
    const sCached = await createSession(cached.graph.toBytes(), { optimization: 'basic' });
    const sStep = await createSession(step.graph.toBytes(), { optimization: 'basic' });
    const seq = [3, 4, 5, 6];
    const want = await sFull.run({ ...batchFeeds([seq], 4).feeds, ...weightFeeds(full.graph, w) });
    // Prefill 3 tokens with an empty cache.
    const empty: Record<string, ReturnType<typeof tensor>> = {};
    for (let l = 0; l < cfg.numHiddenLayers; l++) {
      empty[`past_key_values.${l}.key`] = tensor('float64', [], [1, cfg.numKeyValueHeads, 0, cfg.headDim]);
      empty[`past_key_values.${l}.value`] = tensor('float64', [], [1, cfg.numKeyValueHeads, 0, cfg.headDim]);
    }
    const pre = await sCached.run({ ...batchFeeds([seq.slice(0, 3)], 3).feeds, ...empty, ...weightFeeds(cached.graph, w) });
    const past: Record<string, ReturnType<typeof tensor>> = {};
    for (let l = 0; l < cfg.numHiddenLayers; l++) {
      past[`past_key_values.${l}.key`] = pre[`present.${l}.key`]!;
      past[`past_key_values.${l}.value`] = pre[`present.${l}.value`]!;
      expect(pre[`present.${l}.key`]!.dims).toEqual([1, cfg.numKeyValueHeads, 3, cfg.headDim]);
    }
    const got = await sStep.run({
      input_ids: tensor('int64', [6], [1, 1]),
      attention_mask: tensor('int64', [1, 1, 1, 1], [1, 4]),
      position_ids: tensor('int64', [3], [1, 1]),
      ...past,
      ...weightFeeds(step.graph, w),
    });
    expect(got['logits']!.dims).toEqual([1, 1, cfg.vocabSize]);
    expect(got['present.0.key']!.dims).toEqual([1, cfg.numKeyValueHeads, 1, cfg.headDim]);
    expect(maxRelErr(toNumbers(got['logits']!), toNumbers(want['logits']!))).toBeLessThan(1e-10);
    await Promise.all([sFull.release(), sCached.release(), sStep.release()]);
  });

  it('KV cache with a left-padded batch: two decode steps match each sequence run alone', async () => {
    const cfg = tinyConfig();
    const w = randomWeights(cfg, 9);
    const full = buildLlamaGraph(cfg, { dtype: 'float64', logits: 'last' });
    const step = buildLlamaGraph(cfg, { dtype: 'float64', logits: 'last', kvCache: { present: 'full' } });
    const sFull = await createSession(full.graph.toBytes(), { optimization: 'basic' });
    const sStep = await createSession(step.graph.toBytes(), { optimization: 'basic' });
    const seqs = [
      [3, 4, 5, 6, 7, 8],
      [9, 10, 3, 4],
    ];
    const prefix = 4; // row 0: 4 real prompt tokens; row 1: 2 pads + 2 real
    const prompts = [seqs[0]!.slice(0, prefix), [0, 0, ...seqs[1]!.slice(0, 2)]];
    const promptMask = [
      [1, 1, 1, 1],
      [0, 0, 1, 1],
    ];
    const pos = promptMask.map((m) => {
      let c = 0;
      return m.map((x) => (x ? c++ : 0));
    });
    const zeros = (n: number) => tensor('float64', [], [2, cfg.numKeyValueHeads, n, cfg.headDim]);
    let past: Record<string, ReturnType<typeof tensor>> = {};
    for (let l = 0; l < cfg.numHiddenLayers; l++) {
      past[`past_key_values.${l}.key`] = zeros(0);
      past[`past_key_values.${l}.value`] = zeros(0);
    }
    let mask = promptMask.map((m) => [...m]);
    let ids = prompts;
    let positions = pos;
    for (let s = 0; s < 3; s++) {
      const T = ids[0]!.length;
      const r = await sStep.run({
        input_ids: tensor('int64', ids.flat(), [2, T]),
        attention_mask: tensor('int64', mask.flat(), [2, mask[0]!.length]),
        position_ids: tensor('int64', positions.flat(), [2, T]),
        ...past,
        ...weightFeeds(step.graph, w),
      });
      // Compare each row's last logits with the row's real tokens so far run alone.
      for (let b = 0; b < 2; b++) {
        const real = [...prompts[b]!.filter((_, i) => promptMask[b]![i]), ...seqs[b]!.slice(b === 0 ? prefix : 2, (b === 0 ? prefix : 2) + s)];
        const alone = await sFull.run({ ...batchFeeds([real], real.length).feeds, ...weightFeeds(full.graph, w) });
        const V = cfg.vocabSize;
        const got = toNumbers(r['logits']!).slice(b * V, (b + 1) * V);
        expect(maxRelErr(got, toNumbers(alone['logits']!))).toBeLessThan(1e-10);
      }
      past = {};
      for (let l = 0; l < cfg.numHiddenLayers; l++) {
        past[`past_key_values.${l}.key`] = r[`present.${l}.key`]!;
        past[`past_key_values.${l}.value`] = r[`present.${l}.value`]!;
      }
      // Next token: the sequence's own next token (teacher forcing).
      const next = [seqs[0]![prefix + s]!, seqs[1]![2 + s]!];
      ids = next.map((t) => [t]);
      mask = mask.map((m) => [...m, 1]);
      positions = mask.map((m) => [m.reduce((a, x) => a + x, 0) - 1]);
    }
    await Promise.all([sFull.release(), sStep.release()]);
  });

  it('initializer weights give the same logits as weight inputs', async () => {
    const cfg = tinyConfig({ tieWordEmbeddings: true });
    const w = randomWeights(cfg, 5);
    const a = buildLlamaGraph(cfg, { dtype: 'float32' });
    const bGraph = buildLlamaGraph(cfg, { dtype: 'float32', weightsAs: 'initializers', weights: (n) => Float32Array.from(w.get(n)!) });
    const sa = await createSession(a.graph.toBytes());
    const sb = await createSession(bGraph.graph.toBytes());
    const f = batchFeeds(rows, 5).feeds;
    const ra = await sa.run({ ...f, ...weightFeeds(a.graph, w) });
    const rb = await sb.run(f);
    expect(maxRelErr(toNumbers(rb['logits']!), toNumbers(ra['logits']!))).toBeLessThan(1e-5);
    await Promise.all([sa.release(), sb.release()]);
  });

  it.each(cases)('inference kernels (merged projections, RMSNorm/RoPE kernels) give the same outputs as the plain graph: %s', async (_, cfg) => {
    const w = randomWeights(cfg, 6);
    const weights = (n: string) => Float32Array.from(w.get(n)!);
    const plain = buildLlamaGraph(cfg, { dtype: 'float32', weightsAs: 'initializers', weights });
    const fused = buildLlamaGraph(cfg, { dtype: 'float32', weightsAs: 'initializers', weights, inferenceKernels: true });
    const ops = new Set(fused.graph.liveNodes().map((n) => n.opType));
    expect(ops).toContain('SimplifiedLayerNormalization');
    expect(ops).toContain('RotaryEmbedding');
    const sa = await createSession(plain.graph.toBytes());
    const sb = await createSession(fused.graph.toBytes());
    const f = batchFeeds(rows, 5).feeds;
    const ra = await sa.run(f);
    const rb = await sb.run(f);
    const out = cfg.architecture === 'LlamaForSequenceClassification' ? 'rewards' : 'logits';
    expect(rb[out]!.dims).toEqual(ra[out]!.dims);
    expect(maxRelErr(toNumbers(rb[out]!), toNumbers(ra[out]!))).toBeLessThan(1e-5);
    await Promise.all([sa.release(), sb.release()]);
  });

  it('inference kernels refuse weight inputs and float64', () => {
    const cfg = tinyConfig();
    expect(() => buildLlamaGraph(cfg, { dtype: 'float32', inferenceKernels: true })).toThrow(/inferenceKernels/);
    const w = randomWeights(cfg, 6);
    expect(() => buildLlamaGraph(cfg, { dtype: 'float64', weightsAs: 'initializers', weights: (n) => w.get(n)!, inferenceKernels: true })).toThrow(/inferenceKernels/);
  });
});
