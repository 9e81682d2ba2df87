// Stage 2 — Bradley–Terry reward model: loss −log σ(r(x, y_c) − r(x, y_r)), a scalar `score` head at the
// last non-pad token of a Llama decoder initialised from the SFT policy. A child of rlhfPipeline
// (`${pipelineId}/reward-model`) and startable alone.
import type { ArtifactRef, TrainedModel } from '../activities/types';
import type { RecipeInput } from '../shared/recipe';
import { train } from './activities';
import { checkpointSettings, engineSettings } from './common';
import { demoBaseModel, openStage, prepareRunData } from './stage';

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
  const stage = openStage(input, 'reward-model');
  const { recipe, run, ctl } = stage;
  const exec = recipe.execution;
  const data = input.data ?? (await prepareRunData(stage)).preferences;
  const initFrom = input.initFrom ?? recipe.models.sft ?? recipe.models.base ?? (await demoBaseModel(stage));
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
  // The parent reports the model to the root itself; nothing may be in flight when this workflow closes.
  await ctl.report({ models: { reward: trained.model } }, { flush: true, unsent: true });
  await ctl.flushReports();
  ctl.setStage('completed');
  return trained;
}
