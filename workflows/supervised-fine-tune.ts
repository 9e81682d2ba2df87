// Stage 1 — supervised fine-tuning of the base model on demonstrations (token cross-entropy on response
// tokens). A child of rlhfPipeline (`${pipelineId}/sft`) and startable alone: `{}` prepares the demo data,
// initialises the demo base model and trains it.
import { workflowInfo } from '@temporalio/workflow';
import type { ArtifactRef, TrainedModel } from '../activities/types';
import { promptPoolSize, type RecipeInput } from '../shared/recipe';
import { control, train } from './activities';
import { checkpointSettings, engineSettings, resolveOrFail, runNameOrFail } from './common';
import { RunControl } from './control';

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
  const recipe = resolveOrFail(input.recipe);
  const run = runNameOrFail(input.run);
  const exec = recipe.execution;
  const ctl = new RunControl({
    workflow: workflowInfo().workflowType,
    run,
    iterations: recipe.online.iterations,
    root: input.root ?? null,
    searchAttributes: exec.searchAttributes,
  }).install();
  ctl.setStage('sft');

  let data = input.data ?? null;
  if (!data) {
    await ctl.gate();
    const prepared = await control(exec, `prepare data for ${run}`).prepareData({
      run,
      seed: recipe.seed,
      data: recipe.data,
      poolSize: promptPoolSize(recipe),
      shardSize: exec.shardSize,
    });
    data = prepared.sft;
  }
  let baseModel = input.baseModel ?? recipe.models.base;
  if (!baseModel) {
    await ctl.gate();
    baseModel = await train(exec, `initialise demo base model for ${run}`).initBaseModel({ run, seed: recipe.seed, demo: recipe.models.demo });
  }
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
  await ctl.report({ models: { sft: trained.model } }, { flush: true });
  ctl.setStage('completed');
  return { ...trained, baseModel };
}
