// Resumable training checkpoints: `step-XXXXXX/` = a Hugging Face model folder (config.json,
// model.safetensors, tokenizer files) + `optimizer.safetensors` (AdamW moments `m.<name>`, `v.<name>`) +
// `trainer_state.json` (step, data position, loss curve, fingerprint of data and hyper-parameters) +
// optional extra tensors (`extra.safetensors`, e.g. DPO reference log-probs).
// Written to a hidden tmp folder and renamed into place: a folder named step-XXXXXX is always complete.

import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HfModel, type Weights, loadHfModel, saveHfModel } from '../hf/checkpoint';
import type { LlamaConfig } from '../hf/config';
import { EngineInputError } from '../hf/errors';
import { type Tensor, readSafetensors, writeSafetensors } from '../hf/safetensors';
import { type AdamWState, restoreAdamWState } from '../optim/adamw';

export const TRAIN_STATE_FORMAT = 'durable-rlhf/train-state@1';

export interface TrainerState {
  format: typeof TRAIN_STATE_FORMAT;
  kind: 'sft' | 'reward' | 'dpo';
  /** Optimizer steps completed. */
  step: number;
  totalSteps: number;
  /** Where the next step starts: epoch and step index within it (data order is a function of seed and epoch). */
  epoch: number;
  stepInEpoch: number;
  /** SHA-256 of the tokenized data, hyper-parameters and model config: a resume with other inputs is refused. */
  fingerprint: string;
  lossCurve: { step: number; loss: number; lr: number }[];
  /** Running sums of objective statistics and their units, for TrainResult.metrics. */
  sums: Record<string, number>;
  units: number;
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** Write a checkpoint atomically; returns its path. */
export function writeTrainCheckpoint(
  dir: string,
  c: {
    config: LlamaConfig;
    weights: Weights;
    tokenizerFrom: string;
    optimizer: AdamWState;
    state: TrainerState;
    extra?: Map<string, Tensor>;
  },
): string {
  const final = join(dir, checkpointName(c.state.step));
  const tmp = join(dir, `.${checkpointName(c.state.step)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  saveHfModel(tmp, { config: c.config, weights: c.weights, tokenizerFrom: c.tokenizerFrom });
  const opt = new Map<string, Tensor>();
  for (const [name, m] of c.optimizer.m) opt.set(`m.${name}`, { shape: [m.length], data: m });
  for (const [name, v] of c.optimizer.v) opt.set(`v.${name}`, { shape: [v.length], data: v });
  writeSafetensors(join(tmp, 'optimizer.safetensors'), opt, { metadata: { step: String(c.optimizer.step) } });
  if (c.extra) writeSafetensors(join(tmp, 'extra.safetensors'), c.extra);
  writeFileSync(join(tmp, 'trainer_state.json'), JSON.stringify(c.state, null, 1));
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  return final;
}

export interface LoadedCheckpoint {
  model: HfModel;
  optimizer: AdamWState;
  state: TrainerState;
  extra: Map<string, Tensor> | null;
}

/** Read a checkpoint folder written by writeTrainCheckpoint; errors name the folder and file. */
export function readTrainCheckpoint(path: string): LoadedCheckpoint {
  const stateFile = join(path, 'trainer_state.json');
  if (!existsSync(stateFile)) throw new EngineInputError(`not a training checkpoint: ${stateFile} is missing`);
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as TrainerState;
  } catch (e) {
    throw new EngineInputError(`${stateFile}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
  if (state.format !== TRAIN_STATE_FORMAT) throw new EngineInputError(`${stateFile}: unknown format ${JSON.stringify(state.format)}`);
  const model = loadHfModel(path);
  const optFile = join(path, 'optimizer.safetensors');
  const { tensors, metadata } = readSafetensors(optFile);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, w] of model.weights) {
    const mt = tensors.get(`m.${name}`);
    const vt = tensors.get(`v.${name}`);
    if (!mt || !vt) throw new EngineInputError(`${optFile}: missing optimizer state for tensor "${name}"`);
    if (mt.data.length !== w.data.length || vt.data.length !== w.data.length) {
      throw new EngineInputError(`${optFile}: optimizer state of "${name}" does not match the tensor's size`);
    }
    m.set(name, mt.data);
    v.set(name, vt.data);
  }
  const step = Number(metadata['step']);
  if (!Number.isInteger(step) || step < 0) throw new EngineInputError(`${optFile}: missing or invalid "step" metadata`);
  const extraFile = join(path, 'extra.safetensors');
  const extra = existsSync(extraFile) ? readSafetensors(extraFile).tensors : null;
  return { model, optimizer: restoreAdamWState(step, m, v), state, extra };
}

/** Remove all but the newest `keep` complete step folders (and any stale tmp folders) under `dir`. */
export function pruneCheckpoints(dir: string, keep: number): void {
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir);
  const steps = entries.filter((e) => /^step-\d{6,}$/.test(e)).sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keep))) rmSync(join(dir, old), { recursive: true, force: true });
  for (const e of entries) if (/^\.step-\d+\.tmp-/.test(e)) rmSync(join(dir, e), { recursive: true, force: true });
}

/** The newest complete checkpoint folder under `dir`, or null. */
export function latestCheckpoint(dir: string): string | null {
  if (!existsSync(dir)) return null;
  const steps = readdirSync(dir).filter((e) => /^step-\d{6,}$/.test(e) && existsSync(join(dir, e, 'trainer_state.json'))).sort();
  const last = steps[steps.length - 1];
  return last ? join(dir, last) : null;
}
