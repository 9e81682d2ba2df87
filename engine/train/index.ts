// Engine.trainSft / trainRewardModel / trainDpo (engine/api.ts), run in the calling thread: sessions run
// synchronously between `await setImmediate` yields, so engine/index.ts runs these in a worker thread.

import type { DpoHyper, PairRow, SftRow, TrainCommon, TrainHyper, TrainResult } from '../api';
import { throwIfAborted } from '../errors';
import { type HfModel, loadHfModel } from '../hf/checkpoint';
import { EngineInputError } from '../hf/errors';
import { readSafetensors } from '../hf/safetensors';
import { loadTokenizer } from '../tokenizer/tokenizer';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type TruncationCounts, tokenizePairRows, tokenizeSftRows } from './data';
import { runTraining } from './loop';
import { type DpoItem, dpoObjective, rewardObjective, sequenceLogps, sftObjective } from './objectives';

export type TrainSftOptions = TrainCommon & { modelDir: string; rows: SftRow[]; hyper: TrainHyper };
export type TrainRewardOptions = TrainCommon & { modelDir: string; rows: PairRow[]; hyper: TrainHyper };
export type TrainDpoOptions = TrainCommon & { modelDir: string; referenceDir: string; rows: PairRow[]; hyper: DpoHyper };

function countMetrics(c: TruncationCounts): Record<string, number> {
  return {
    rows: c.rows,
    rows_kept: c.kept,
    rows_dropped: c.dropped,
    prompts_truncated: c.promptsTruncated,
    responses_truncated: c.responsesTruncated,
  };
}

function requireArchitecture(m: HfModel, arch: HfModel['config']['architecture'], what: string): void {
  if (m.config.architecture !== arch) {
    throw new EngineInputError(`${join(m.dir, 'config.json')}: ${what} needs a ${arch}, got ${m.config.architecture}`);
  }
}

function padId(m: HfModel): number {
  const pad = m.config.padTokenId ?? m.config.eosTokenIds[0];
  if (pad === undefined) throw new EngineInputError(`${join(m.dir, 'config.json')}: neither pad_token_id nor eos_token_id is set (needed for padding)`);
  return pad;
}

const sessionChoice = (c: TrainCommon): { device: 'cpu' | 'cuda' | 'webgpu'; threads: number } => ({
  device: c.engine?.device ?? 'cpu',
  threads: c.engine?.threads ?? 1,
});

/** Supervised fine-tuning: token cross-entropy on response tokens (prompt tokens masked). */
export async function trainSft(opts: TrainSftOptions): Promise<TrainResult> {
  const model = loadHfModel(opts.modelDir);
  requireArchitecture(model, 'LlamaForCausalLM', 'trainSft');
  padId(model);
  const tok = loadTokenizer(opts.modelDir);
  const { examples, counts } = tokenizeSftRows(tok, opts.rows, opts.hyper);
  const objective = sftObjective(model.config, sessionChoice(opts));
  return await runTraining({
    kind: 'sft',
    model,
    items: examples,
    objective,
    hyper: opts.hyper,
    common: opts,
    fingerprintParts: [examples],
    metrics: countMetrics(counts),
  });
}

/**
 * Bradley–Terry reward model (LlamaForSequenceClassification, num_labels 1): −log σ(r_c − r_r). The reward is
 * read at the last non-pad token, so pad_token_id must be set and differ from every eos id.
 */
export async function trainRewardModel(opts: TrainRewardOptions): Promise<TrainResult> {
  const model = loadHfModel(opts.modelDir);
  requireArchitecture(model, 'LlamaForSequenceClassification', 'trainRewardModel');
  const cfgFile = join(model.dir, 'config.json');
  if (model.config.numLabels !== 1) throw new EngineInputError(`${cfgFile}: a Bradley–Terry reward model needs num_labels 1, got ${model.config.numLabels}`);
  if (model.config.padTokenId === null) throw new EngineInputError(`${cfgFile}: pad_token_id must be set for a reward model`);
  if (model.config.eosTokenIds.includes(model.config.padTokenId)) {
    throw new EngineInputError(`${cfgFile}: pad_token_id (${model.config.padTokenId}) equals an eos id: every reward would be read at the same token`);
  }
  const tok = loadTokenizer(opts.modelDir);
  const { examples, counts } = tokenizePairRows(tok, opts.rows, opts.hyper, 'reward');
  const objective = rewardObjective(model.config, sessionChoice(opts));
  return await runTraining({
    kind: 'reward',
    model,
    items: examples,
    objective,
    hyper: opts.hyper,
    common: opts,
    fingerprintParts: [examples],
    metrics: countMetrics(counts),
  });
}

function validateDpoHyper(h: DpoHyper): void {
  if (!(typeof h.beta === 'number' && h.beta > 0)) throw new EngineInputError(`hyper.beta must be > 0, got ${JSON.stringify(h.beta)}`);
  if (!(h.labelSmoothing >= 0 && h.labelSmoothing < 0.5)) throw new EngineInputError(`hyper.labelSmoothing must be in [0, 0.5), got ${h.labelSmoothing}`);
  if (!(h.rpoAlpha >= 0)) throw new EngineInputError(`hyper.rpoAlpha must be ≥ 0, got ${h.rpoAlpha}`);
  if (h.lossType !== 'sigmoid' && h.lossType !== 'ipo') throw new EngineInputError(`hyper.lossType must be "sigmoid" or "ipo", got ${JSON.stringify(h.lossType)}`);
}

/**
 * DPO against a frozen reference: reference log-probs of every chosen/rejected response are computed once up
 * front (and carried in checkpoints as `reference_logps`, so a resume does not recompute them).
 */
export async function trainDpo(opts: TrainDpoOptions): Promise<TrainResult> {
  validateDpoHyper(opts.hyper);
  const model = loadHfModel(opts.modelDir);
  requireArchitecture(model, 'LlamaForCausalLM', 'trainDpo (policy)');
  padId(model);
  const tok = loadTokenizer(opts.modelDir);
  const { examples, counts } = tokenizePairRows(tok, opts.rows, opts.hyper, 'dpo');
  const n = examples.length;

  let refLogps: Float32Array | null = null;
  const resume = opts.checkpoint.resumeFrom;
  if (resume && existsSync(join(resume, 'extra.safetensors'))) {
    const t = readSafetensors(join(resume, 'extra.safetensors')).tensors.get('reference_logps');
    if (t && t.data.length === 2 * n) refLogps = t.data;
  }
  if (!refLogps) {
    const ref = loadHfModel(opts.referenceDir);
    requireArchitecture(ref, 'LlamaForCausalLM', 'trainDpo (reference)');
    if (ref.config.vocabSize !== model.config.vocabSize) {
      throw new EngineInputError(
        `reference ${opts.referenceDir} has vocab_size ${ref.config.vocabSize}, policy ${opts.modelDir} has ${model.config.vocabSize}: they must share the tokenizer`,
      );
    }
    const lp = await sequenceLogps(ref.config, ref.weights, [...examples.map((e) => e.chosen), ...examples.map((e) => e.rejected)], {
      ...sessionChoice(opts),
      batchSize: opts.hyper.batchSize,
      between: async (done) => {
        throwIfAborted(opts.signal);
        // Visible progress for what can be long on real models (one forward of the reference per sequence).
        opts.onProgress?.({ done: 0, total: 0, detail: { phase: 'reference-logps', sequences: done, of: 2 * n } });
        await new Promise((r) => setImmediate(r));
      },
    });
    refLogps = Float32Array.from(lp);
  }
  const ref = refLogps;
  const items: DpoItem[] = examples.map((pair, i) => ({ pair, refChosen: ref[i]!, refRejected: ref[n + i]! }));
  const objective = dpoObjective(
    model.config,
    { beta: opts.hyper.beta, labelSmoothing: opts.hyper.labelSmoothing, rpoAlpha: opts.hyper.rpoAlpha, lossType: opts.hyper.lossType },
    sessionChoice(opts),
  );
  return await runTraining({
    kind: 'dpo',
    model,
    items,
    objective,
    hyper: opts.hyper,
    common: opts,
    fingerprintParts: [examples, Array.from(ref)],
    extra: new Map([['reference_logps', { shape: [2 * n], data: ref }]]),
    metrics: countMetrics(counts),
  });
}
