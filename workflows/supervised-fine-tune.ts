// Stage 1 — supervised fine-tuning of the base model on demonstrations (token cross-entropy on response
// tokens). A child of rlhfPipeline (`${pipelineId}/sft`) and startable alone: `{}` prepares the demo data,
// initialises the demo base model and trains it.
import type { ArtifactRef, TrainedModel } from '../activities/types';
import type { RecipeInput } from '../shared/recipe';
import { train } from './activities';
import { checkpointSettings, engineSettings } from './common';
import { demoBaseModel, openStage, prepareRunData } from './stage';

export interface SupervisedFineTuneInput {
  /** Run name (artifact prefix runs/<run>/); default: the workflow id. */
  run?: string;
  recipe?: RecipeInput;
  /** HF-layout base model; default recipe.models.base, else the demo model initialised from scratch. */
  baseModel?: ArtifactRef | null;
  /** Committed prefix of `sft.jsonl`; default: the run's prepared data (demo task or recipe.data.sftUri). */
  data?: ArtifactRef | null;
  /** Root workflow id for progress reports (set by the pipeline). */
  root?: string | null;
}

export interface SupervisedFineTuneResult extends TrainedModel {
  baseModel: ArtifactRef;
}

export async function supervisedFineTune(input: SupervisedFineTuneInput = {}): Promise<SupervisedFineTuneResult> {
  const stage = openStage(input, 'sft');
  const { recipe, run, ctl } = stage;
  const exec = recipe.execution;
  const data = input.data ?? (await prepareRunData(stage)).sft;
  const baseModel = input.baseModel ?? recipe.models.base ?? (await demoBaseModel(stage));
  await ctl.gate();
  const trained = await train(exec, `SFT of ${run}: lr ${recipe.sft.learningRate}, ${recipe.sft.epochs} epoch(s)`).trainSft({
    run,
    baseModel,
    data,
    hyper: recipe.sft,
    seed: recipe.seed,
    checkpoint: checkpointSettings(recipe),
    engine: engineSettings(recipe),
  });
  // The parent reports the model to the root itself; nothing may be in flight when this workflow closes.
  await ctl.report({ models: { sft: trained.model } }, { flush: true, unsent: true });
  await ctl.flushReports();
  ctl.setStage('completed');
  return { ...trained, baseModel };
}
