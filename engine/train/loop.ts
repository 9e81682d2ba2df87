// The training loop shared by SFT, reward-model and DPO training.
//
// Per epoch e the data order is shuffledIndices(N, rngFor(seed, 'data-order', e)); an optimizer step takes
// batchSize × gradientAccumulation items as gradientAccumulation micro-batches. The step's loss is the mean
// over its units (tokens or pairs): micro-batch results are weighted by their share of the step's units.
// Then global-norm clipping, the scheduled learning rate (HF warm-up + decay, stepped once per optimizer
// step) and AdamW. Everything that decides the next step — weights, AdamW moments, step number — is in a
// checkpoint, so a resumed run continues bit for bit.
//
// On abort (checkpoint.onAbort, default true) the loop saves a checkpoint of the last completed step (off the
// everySteps grid if need be; a half-done step is dropped: its statistics are rolled back, the weights were
// not touched yet) and awaits onCheckpoint before rejecting, so a retry redoes at most the interrupted step.

import { createHash } from 'node:crypto';
import type { TrainCommon, TrainHyper, TrainResult } from '../api';
import { EngineAbortError, throwIfAborted } from '../errors';
import { type HfModel, type Weights, saveHfModel } from '../hf/checkpoint';
import { EngineInputError } from '../hf/errors';
import type { Tensor } from '../hf/safetensors';
import { type AdamWState, adamWStep, createAdamWState } from '../optim/adamw';
import { clipCoefficient, globalGradNorm } from '../optim/clip';
import { learningRateAt } from '../optim/schedule';
import { rngFor, shuffledIndices } from '../rng';
import { type TrainerState, TRAIN_STATE_FORMAT, pruneCheckpoints, readTrainCheckpoint, writeTrainCheckpoint } from './checkpoint';
import { planEpoch } from './data';
import type { Objective } from './objective';

export function validateHyper(h: TrainHyper): void {
  const pos = (k: keyof TrainHyper, int = false): void => {
    const v = h[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (int && !Number.isInteger(v))) {
      throw new EngineInputError(`hyper.${k} must be a positive ${int ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
    }
  };
  pos('learningRate');
  pos('epochs', true);
  pos('batchSize', true);
  pos('gradientAccumulation', true);
  pos('adamEps');
  for (const k of ['adamBeta1', 'adamBeta2'] as const) {
    if (!(h[k] >= 0 && h[k] < 1)) throw new EngineInputError(`hyper.${k} must be in [0, 1), got ${h[k]}`);
  }
  if (!(h.warmupRatio >= 0 && h.warmupRatio <= 1)) throw new EngineInputError(`hyper.warmupRatio must be in [0, 1], got ${h.warmupRatio}`);
  if (!(h.weightDecay >= 0)) throw new EngineInputError(`hyper.weightDecay must be ≥ 0, got ${h.weightDecay}`);
  if (!(h.maxGradNorm >= 0)) throw new EngineInputError(`hyper.maxGradNorm must be ≥ 0, got ${h.maxGradNorm}`);
  if (!['cosine', 'linear', 'constant'].includes(h.schedule)) throw new EngineInputError(`hyper.schedule must be cosine, linear or constant, got ${JSON.stringify(h.schedule)}`);
  if (typeof h.seed !== 'string') throw new EngineInputError(`hyper.seed must be a string`);
}

export interface LoopInput<I> {
  kind: TrainerState['kind'];
  /** Initial model (weights are trained in place). Ignored when resuming (the checkpoint's weights are used). */
  model: HfModel;
  items: I[];
  objective: Objective<I>;
  hyper: TrainHyper;
  common: TrainCommon;
  /** Anything else that must match on resume (tokenized data, reference log-probs…), hashed into the fingerprint. */
  fingerprintParts: unknown[];
  /** Extra tensors carried in every checkpoint (e.g. DPO reference log-probs). */
  extra?: Map<string, Tensor>;
  /** Extra metrics at the end (e.g. truncation counts). */
  metrics?: Record<string, number>;
  /** Checkpoints kept on local disk (older ones are removed after onCheckpoint). Default 2. */
  keepCheckpoints?: number;
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** JSON with object keys sorted (the same value hashes the same whatever order its keys were set in). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

/** SHA-256 over the parts; arrays are hashed element by element (no giant JSON string for big datasets). */
export function fingerprint(parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    if (Array.isArray(p)) {
      h.update(`[${p.length}]`);
      for (const x of p) h.update(canonical(x)).update(',');
    } else h.update(canonical(p));
    h.update('\n');
  }
  return h.digest('hex');
}

/** Run (or resume) the loop; saves the final model to common.outDir and returns the loss curve and metrics. */
/** Runs the training loop; it owns `input.objective` and releases it however the loop ends. */
export async function runTraining<I>(input: LoopInput<I>): Promise<TrainResult> {
  try {
    return await trainLoop(input);
  } finally {
    await input.objective.release();
  }
}

async function trainLoop<I>(input: LoopInput<I>): Promise<TrainResult> {
  const { hyper, common, items, objective } = input;
  validateHyper(hyper);
  if (items.length === 0) throw new EngineInputError(`${input.kind}: no training rows left after tokenization and truncation`);
  const signal = common.signal;
  const perEpoch = planEpoch(items.map((_, i) => i), hyper.batchSize, hyper.gradientAccumulation).length;
  const totalSteps = perEpoch * hyper.epochs;
  const { config, dir: modelDir } = input.model;
  const fp = fingerprint([input.kind, hyper, config, items.length, ...input.fingerprintParts]);

  let weights: Weights = input.model.weights;
  let optimizer: AdamWState = createAdamWState(weights);
  let state: TrainerState = {
    format: TRAIN_STATE_FORMAT,
    kind: input.kind,
    step: 0,
    totalSteps,
    epoch: 0,
    stepInEpoch: 0,
    fingerprint: fp,
    lossCurve: [],
    sums: {},
    units: 0,
  };
  // Tokenizer files always come from the input model folder (a resumed checkpoint holds the same copies).
  const tokenizerFrom = modelDir;
  if (common.checkpoint.resumeFrom) {
    const ck = readTrainCheckpoint(common.checkpoint.resumeFrom);
    if (ck.state.fingerprint !== fp || ck.state.kind !== input.kind) {
      throw new EngineInputError(
        `checkpoint ${common.checkpoint.resumeFrom} was written for other data, hyper-parameters or model (fingerprint mismatch); refusing to resume`,
      );
    }
    weights = ck.model.weights;
    optimizer = ck.optimizer;
    state = ck.state;
  }
  const resumedFromStep = state.step;

  const everySteps = common.checkpoint.everySteps ?? 0;
  const everyMs = (common.checkpoint.everySeconds ?? 0) * 1000;
  let lastCheckpointAt = Date.now();
  /** The newest step that is in a checkpoint (written now or the one resumed from). */
  let savedStep = resumedFromStep;
  const saveCheckpoint = async (): Promise<void> => {
    const path = writeTrainCheckpoint(common.checkpoint.dir, {
      config,
      weights,
      tokenizerFrom,
      optimizer,
      state,
      ...(input.extra ? { extra: input.extra } : {}),
    });
    lastCheckpointAt = Date.now();
    savedStep = state.step;
    if (common.checkpoint.onCheckpoint) await common.checkpoint.onCheckpoint({ step: state.step, path });
    pruneCheckpoints(common.checkpoint.dir, input.keepCheckpoints ?? 2);
  };

  /** Statistics as they were before the step in progress (restored when that step is abandoned). */
  let sumsBeforeStep: Record<string, number> | null = null;
  /** Σ over micro-batches of share · gradient (steps of several micro-batches), allocated once when needed. */
  let accumulator: Map<string, Float32Array> | null = null;
  try {
    while (state.step < totalSteps) {
      throwIfAborted(signal);
      const order = shuffledIndices(items.length, rngFor(hyper.seed, 'data-order', state.epoch));
      const plan = planEpoch(order, hyper.batchSize, hyper.gradientAccumulation);
      const micro = plan[state.stepInEpoch];
      if (!micro) throw new Error(`internal: no step ${state.stepInEpoch} in epoch ${state.epoch}`);

      const stepItems = micro.flat().map((i) => items[i]!);
      const stepUnits = objective.units(stepItems);
      if (stepUnits <= 0) throw new Error('internal: a training step with no loss units');
      sumsBeforeStep = { ...state.sums };
      // With one micro-batch (share 1) the step's gradient is the run's own — what the sum would hold, bit for
      // bit — and the graph's Σ g² is its squared norm.
      let stepGrads: Map<string, Float32Array> | undefined;
      if (micro.length > 1) {
        accumulator ??= new Map([...weights].map(([name, w]) => [name, new Float32Array(w.data.length)]));
        for (const g of accumulator.values()) g.fill(0);
        stepGrads = accumulator;
      }
      let loss = 0;
      let squaredNorm: number | undefined;
      for (const mb of micro) {
        throwIfAborted(signal);
        const batch = mb.map((i) => items[i]!);
        const share = objective.units(batch) / stepUnits;
        const out = await objective.run(weights, batch);
        if (!Number.isFinite(out.loss)) throw new Error(`training diverged: loss ${out.loss} at step ${state.step + 1}`);
        loss += share * out.loss;
        if (micro.length === 1) {
          stepGrads = out.grads;
          squaredNorm = out.gradSquaredNorm;
        } else {
          for (const [name, g] of out.grads) {
            const acc = accumulator!.get(name);
            if (!acc) throw new Error(`internal: gradient for unknown weight "${name}"`);
            for (let k = 0; k < acc.length; k++) acc[k] = acc[k]! + share * g[k]!;
          }
        }
        for (const [k, v] of Object.entries(out.sums ?? {})) state.sums[k] = (state.sums[k] ?? 0) + v;
        await yieldToEventLoop();
      }
      state.units += stepUnits;
      if (!stepGrads) throw new Error(`internal: step ${state.step + 1} has no micro-batches`);
      const gradNorm = squaredNorm !== undefined ? Math.sqrt(squaredNorm) : globalGradNorm(stepGrads.values());
      const lr = learningRateAt(hyper, state.step, totalSteps);
      const hyperAdam = { beta1: hyper.adamBeta1, beta2: hyper.adamBeta2, eps: hyper.adamEps, weightDecay: hyper.weightDecay };
      // Clipping's factor is applied by AdamW as it reads each gradient (one pass instead of two).
      adamWStep(weights, stepGrads, optimizer, lr, hyperAdam, clipCoefficient(gradNorm, hyper.maxGradNorm));
      state.step += 1;
      state.stepInEpoch += 1;
      if (state.stepInEpoch >= plan.length) {
        state.epoch += 1;
        state.stepInEpoch = 0;
      }
      state.lossCurve.push({ step: state.step, loss, lr });
      state.sums['grad_norm_last'] = gradNorm;
      sumsBeforeStep = null;
      common.onProgress?.({ done: state.step, total: totalSteps, detail: { loss, lr, gradNorm, epoch: state.epoch } });
      const due =
        state.step < totalSteps &&
        ((everySteps > 0 && state.step % everySteps === 0) || (everyMs > 0 && Date.now() - lastCheckpointAt >= everyMs));
      if (due) await saveCheckpoint();
      await yieldToEventLoop();
    }
  } catch (err) {
    if (signal?.aborted && (common.checkpoint.onAbort ?? true) && state.step > savedStep) {
      if (sumsBeforeStep) state.sums = sumsBeforeStep;
      try {
        await saveCheckpoint();
      } catch (saveErr) {
        throw new EngineAbortError(`${(err as Error).message}; the checkpoint of step ${state.step} on abort failed: ${(saveErr as Error).message}`);
      }
    }
    throw err;
  }

  saveHfModel(common.outDir, { config, weights, tokenizerFrom });
  const metrics: Record<string, number> = { ...input.metrics, totalSteps, units: state.units };
  for (const [k, v] of Object.entries(state.sums)) metrics[k] = k === 'grad_norm_last' ? v : v / Math.max(1, state.units);
  const last = state.lossCurve[state.lossCurve.length - 1];
  return {
    steps: state.step,
    stepsRun: state.step - resumedFromStep,
    resumedFromStep,
    finalLoss: last ? last.loss : NaN,
    lossCurve: state.lossCurve,
    metrics,
  };
}
