import { describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../hf/config';
import type { DpoParams } from '../losses/dpo';
import { randomWeights, tinyConfig, weightFeeds } from '../model/testing';
import { buildDpoTrainGraph, gradName } from '../model/train-graphs';
import { createSession, type ort, tensor, toNumbers } from '../onnx/session';
import { type PairExample, collatePairs, collateSharedPrompt } from './data';
import { batchFeeds, sharedPromptFeeds } from './objectives';

// Prompts of different lengths (one of a single token, so its prefix is empty) and responses of different
// lengths: left-padded prefixes, right-padded continuations.
const pairs: PairExample[] = [
  { chosen: { promptIds: [1, 3, 4, 7], responseIds: [5, 6, 2] }, rejected: { promptIds: [1, 3, 4, 7], responseIds: [9, 2] } },
  { chosen: { promptIds: [1], responseIds: [8, 2] }, rejected: { promptIds: [1], responseIds: [3, 3, 10, 2] } },
  { chosen: { promptIds: [1, 9], responseIds: [4, 2] }, rejected: { promptIds: [1, 9], responseIds: [6, 5, 2] } },
];

/** The float32 loss_mask feed as float64 (the float64 graphs take float64 masks). */
function asFloat64(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const m = feeds['loss_mask']!;
  return { ...feeds, loss_mask: tensor('float64', toNumbers(m), m.dims) };
}

const cases: [string, LlamaConfig, DpoParams][] = [
  ['sigmoid, GQA untied', tinyConfig(), { beta: 0.5, labelSmoothing: 0, lossType: 'sigmoid', rpoAlpha: 0 }],
  ['sigmoid + label smoothing + RPO, tied', tinyConfig({ tieWordEmbeddings: true }), { beta: 0.1, labelSmoothing: 0.1, lossType: 'sigmoid', rpoAlpha: 1 }],
  [
    'IPO, llama3 rope',
    tinyConfig({
      numAttentionHeads: 2,
      numKeyValueHeads: 1,
      headDim: 4,
      ropeTheta: 500000,
      ropeScaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 },
    }),
    { beta: 0.2, labelSmoothing: 0, lossType: 'ipo', rpoAlpha: 0 },
  ],
];

describe('shared-prompt DPO graph (each prompt run once) vs the concatenated forward (float64)', () => {
  it.each(cases)('same loss, log-probs, rewards and gradients: %s', async (_, cfg, params) => {
    const w = randomWeights(cfg, 17);
    const refs = {
      ref_chosen_logps: tensor('float64', [-9.5, -4.25, -7], [3]),
      ref_rejected_logps: tensor('float64', [-6.5, -12, -3], [3]),
    };
    const plain = buildDpoTrainGraph(cfg, params, { dtype: 'float64' });
    const shared = buildDpoTrainGraph(cfg, params, { dtype: 'float64', sharedPrompt: true });
    const sp = await createSession(plain.toBytes(), { optimization: 'basic' });
    const ss = await createSession(shared.toBytes(), { optimization: 'basic' });
    const want = await sp.run({ ...asFloat64(batchFeeds(collatePairs(pairs, 0), 0)), ...refs, ...weightFeeds(plain.graph, w) });
    const batch = collateSharedPrompt(pairs, 0);
    expect(batch.prefixLength).toBe(3);
    const got = await ss.run({ ...asFloat64(sharedPromptFeeds(batch, 0)), ...refs, ...weightFeeds(shared.graph, w) });
    const close = (a: number[], b: number[], what: string) => {
      const scale = Math.max(1e-12, ...b.map(Math.abs));
      const err = Math.max(...a.map((v, i) => Math.abs(v - b[i]!))) / scale;
      expect(err, what).toBeLessThan(1e-10);
    };
    for (const name of shared.metricNames) close(toNumbers(got[name]!), toNumbers(want[name]!), name);
    expect(shared.trainableNames).toEqual(plain.trainableNames);
    for (const name of plain.trainableNames) close(toNumbers(got[gradName(name)]!), toNumbers(want[gradName(name)]!), gradName(name));
    await Promise.all([sp.release(), ss.release()]);
  });

  it('collateSharedPrompt refuses a pair whose chosen and rejected prompts differ', () => {
    const bad: PairExample = { chosen: { promptIds: [1, 3], responseIds: [2] }, rejected: { promptIds: [1, 4], responseIds: [2] } };
    expect(() => collateSharedPrompt([bad], 0)).toThrow(/pair 0 has different chosen and rejected prompts/);
  });
});
