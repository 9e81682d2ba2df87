// The engine's worker-thread module: models loaded here run their ONNX Runtime sessions off the main thread.
// engine/index.ts starts one worker per loaded model (and one per training call) and talks to it via host.ts.

import type { EngineOptions, GenerateOptions, InitModelOptions, Prompt, RunControl, ScoreItem } from '../api';
import { initRandomModel } from '../hf/checkpoint';
import { generate } from '../generate/generate';
import { InferenceModel } from '../generate/inference-model';
import { scoreRewards, sequenceLogProbs } from '../score/score';
import { trainDpo, trainRewardModel, trainSft } from '../train';
import { serveRequests } from './serve';

const models = new Map<number, InferenceModel>();
let nextHandle = 1;

function model(handle: number): InferenceModel {
  const m = models.get(handle);
  if (!m) throw new Error(`engine worker: model handle ${handle} is not loaded (released?)`);
  return m;
}

function load(dir: string, opts: EngineOptions, expect: 'lm' | 'score'): { handle: number; maxLength: number } {
  const m = InferenceModel.load(dir, { ...opts, expect });
  const handle = nextHandle++;
  models.set(handle, m);
  return { handle, maxLength: m.maxLength };
}

serveRequests({
  loadPolicy: async (dir: string, opts: EngineOptions) => {
    const r = load(dir, opts, 'lm');
    await model(r.handle).session('decode'); // build the generation session now: load errors surface here
    return r;
  },
  loadRewardModel: async (dir: string, opts: EngineOptions) => {
    const r = load(dir, opts, 'score');
    await model(r.handle).session('reward');
    return r;
  },
  generate: (handle: number, prompts: Prompt[], opts: GenerateOptions) => generate(model(handle), prompts, opts),
  logProbs: (handle: number, items: ScoreItem[], opts: RunControl & { batchSize?: number }) => sequenceLogProbs(model(handle), items, opts),
  score: (handle: number, items: ScoreItem[], opts: RunControl & { batchSize?: number }) => scoreRewards(model(handle), items, opts),
  initModel: (opts: InitModelOptions) => {
    initRandomModel(opts);
  },
  // Training runs here too (one worker per call, see engine/index.ts); callbacks (onCheckpoint, onProgress)
  // and the abort signal arrive as proxies to the caller's thread.
  trainSft,
  trainRewardModel,
  trainDpo,
  release: async (handle: number) => {
    const m = models.get(handle);
    models.delete(handle);
    await m?.release();
  },
});
