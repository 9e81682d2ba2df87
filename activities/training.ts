// What SFT, reward-model and DPO training share: skip when the stage's model is committed; resume from the
// latest committed checkpoint runs/<run>/<stage>/train/step-XXXXXX/ (downloaded, passed as
// checkpoint.resumeFrom); upload each new checkpoint (onCheckpoint) and heartbeat its key; pass the
// cancellation signal; upload and commit the final HF-layout folder last.
import { join } from 'node:path';
import type { EngineOptions, TrainCommon, TrainHyper, TrainResult } from '../engine/api';
import { layout, parseStepName, type Stage } from '../shared/layout';
import { MANIFEST_NAME } from '../shared/store';
import type { TrainOptions } from '../shared/recipe';
import { cancellationSignal, heartbeat, keepAlive, resumeDetails, type Deps } from './support';
import type { CheckpointSettings, EngineSettings, TrainedModel } from './types';

export interface TrainingRun {
  run: string;
  stage: Stage;
  checkpoint: CheckpointSettings;
  engine: EngineSettings;
  /** Prepares inputs in `work` and runs the engine with `common`. */
  train: (common: TrainCommon, work: string) => Promise<TrainResult>;
  /** Extra metadata for the final model's manifest. */
  meta?: Record<string, unknown>;
}

/** The engine's TrainHyper for recipe training options (AdamW betas/eps as in HF defaults). */
export function engineHyper(h: TrainOptions, seed: string): TrainHyper {
  return {
    learningRate: h.learningRate,
    epochs: h.epochs,
    batchSize: h.batchSize,
    gradientAccumulation: h.gradientAccumulation,
    warmupRatio: h.warmupRatio,
    schedule: h.schedule,
    weightDecay: h.weightDecay,
    adamBeta1: 0.9,
    adamBeta2: 0.999,
    adamEps: 1e-8,
    maxGradNorm: h.maxGradNorm,
    maxLength: h.maxLength,
    maxPromptLength: h.maxPromptLength,
    seed,
  };
}

export function engineOptions(s: EngineSettings): EngineOptions {
  return { device: s.device, threads: s.threads };
}

/** The highest committed checkpoint step of a stage, or null. */
export async function latestCheckpoint(deps: Deps, run: string, stage: Stage): Promise<{ step: number; prefix: string } | null> {
  const root = layout.trainCheckpoints(run, stage);
  const objects = await deps.store.list(root);
  let best: { step: number; prefix: string } | null = null;
  for (const o of objects) {
    if (!o.key.endsWith(`/${MANIFEST_NAME}`)) continue;
    const rel = o.key.slice(root.length + 1).split('/');
    const step = rel.length === 2 ? parseStepName(rel[0] as string) : undefined;
    if (step !== undefined && (best === null || step > best.step)) best = { step, prefix: `${root}/${rel[0]}` };
  }
  return best;
}

export async function runStageTraining(deps: Deps, t: TrainingRun): Promise<TrainedModel> {
  const out = layout.model(t.run, t.stage);
  const done = await deps.store.getManifest(out);
  if (done) return done.meta.result as TrainedModel;

  const scratch = await deps.scratch(`train-${t.run}-${t.stage}`);
  try {
    const previous = resumeDetails<{ checkpoint?: string; step?: number }>();
    const latest = await latestCheckpoint(deps, t.run, t.stage);
    let resumeFrom: string | undefined;
    if (latest) {
      resumeFrom = join(scratch.dir, 'resume', latest.prefix.split('/').at(-1) as string);
      await keepAlive({ phase: 'resume', step: latest.step, checkpoint: latest.prefix, previous: previous?.checkpoint ?? null }, deps.store.downloadDir(latest.prefix, resumeFrom));
    }
    let lastUploaded: string | null = latest?.prefix ?? null;
    const common: TrainCommon = {
      outDir: join(scratch.dir, 'out'),
      engine: engineOptions(t.engine),
      signal: cancellationSignal(),
      // A phase before the steps (DPO's reference log-probs) reports its own counts; steps report step/total.
      onProgress: (p) =>
        heartbeat(typeof p.detail?.phase === 'string' ? { ...p.detail, checkpoint: lastUploaded } : { phase: 'train', step: p.done, total: p.total, ...(p.detail ?? {}), checkpoint: lastUploaded }),
      checkpoint: {
        dir: join(scratch.dir, 'checkpoints'),
        everySteps: t.checkpoint.everySteps,
        everySeconds: t.checkpoint.everySeconds,
        ...(resumeFrom ? { resumeFrom } : {}),
        onCheckpoint: async ({ step, path }) => {
          const prefix = layout.trainCheckpoint(t.run, t.stage, step);
          await keepAlive({ phase: 'upload-checkpoint', step, checkpoint: prefix }, deps.store.uploadDir(prefix, path, { step }));
          lastUploaded = prefix;
          heartbeat({ phase: 'checkpoint', step, checkpoint: prefix });
        },
      },
    };
    const result = await t.train(common, scratch.dir);
    const trained: TrainedModel = {
      model: out,
      steps: result.steps,
      resumedFromStep: result.resumedFromStep,
      finalLoss: result.finalLoss,
      metrics: result.metrics,
    };
    await keepAlive({ phase: 'upload', key: out }, deps.store.uploadDir(out, common.outDir, { result: trained, lossCurve: result.lossCurve, ...(t.meta ?? {}) }));
    return trained;
  } finally {
    await scratch.cleanup();
  }
}
