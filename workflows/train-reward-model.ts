// Stage 2 — Bradley–Terry reward model: loss −log σ(r(x, y_c) − r(x, y_r)), a scalar `score` head at the
// last non-pad token of a Llama decoder initialised from the SFT policy. A child of rlhfPipeline
// (`${pipelineId}/reward-model`) and startable alone.
import { workflowInfo } from '@temporalio/workflow';
import type { ArtifactRef, TrainedModel } from '../activities/types';
import { promptPoolSize, type RecipeInput } from '../shared/recipe';
import { control, train } from './activities';
import { checkpointSettings, engineSettings, resolveOrFail, runNameOrFail } from './common';
import { RunControl } from './control';

export interface TrainRewardModelInput {
  run?: string;
  recipe?: RecipeInput;
  /** Weights that initialise the RM decoder; default recipe.models.sft, else recipe.models.base, else the demo model. */
  initFrom?: ArtifactRef | null;
  /** Committed prefix of `preferences.jsonl`; default: the run's prepared data. */
  data?: ArtifactRef | null;
  root?: string | null;
}

export async function trainRewardModel(input: TrainRewardModelInput = {}): Promise<TrainedModel> {
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
  ctl.setStage('reward-model');

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
    data = prepared.preferences;
  }
  let initFrom = input.initFrom ?? recipe.models.sft ?? recipe.models.base;
  if (!initFrom) {
    await ctl.gate();
    initFrom = await train(exec, `initialise demo base model for ${run}`).initBaseModel({ run, seed: recipe.seed, demo: recipe.models.demo });
  }
  await ctl.gate();
  const trained = await train(exec, `reward model of ${run}: lr ${recipe.reward.learningRate}, ${recipe.reward.epochs} epoch(s)`).trainRewardModel({
    run,
    initFrom,
    demo: recipe.models.demo,
    data,
    hyper: recipe.reward,
    seed: recipe.seed,
    checkpoint: checkpointSettings(recipe),
    engine: engineSettings(recipe),
  });
  await ctl.report({ models: { reward: trained.model } }, { flush: true });
  ctl.setStage('completed');
  return trained;
}
