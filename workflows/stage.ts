// What the stage workflows (supervisedFineTune, trainRewardModel) share: resolve the recipe and run name,
// install run control, and — when they run alone — prepare the run's data and the demo base model.
import { workflowInfo } from '@temporalio/workflow';
import type { ArtifactRef, PreparedData } from '../activities/types';
import { promptPoolSize, type RecipeInput, type RecipeOptions } from '../shared/recipe';
import { control, train } from './activities';
import { resolveOrFail, runNameOrFail } from './common';
import type { StageName } from '../shared/messages';
import { RunControl } from './control';

export interface StageContext {
  recipe: RecipeOptions;
  run: string;
  ctl: RunControl;
}

export function openStage(input: { run?: string; recipe?: RecipeInput; root?: string | null }, stage: StageName): StageContext {
  const recipe = resolveOrFail(input.recipe);
  const run = runNameOrFail(input.run);
  const ctl = new RunControl({
    workflow: workflowInfo().workflowType,
    run,
    iterations: recipe.online.iterations,
    root: input.root ?? null,
    searchAttributes: recipe.execution.searchAttributes,
  }).install();
  ctl.setStage(stage);
  return { recipe, run, ctl };
}

/** The run's prepared data (demo task or imported datasets); idempotent, committed under the run. */
export async function prepareRunData({ recipe, run, ctl }: StageContext): Promise<PreparedData> {
  const exec = recipe.execution;
  await ctl.gate();
  return control(exec, `prepare data for ${run}`).prepareData({
    run,
    seed: recipe.seed,
    data: recipe.data,
    poolSize: promptPoolSize(recipe),
    shardSize: exec.shardSize,
  });
}

/** The demo base model, initialised from scratch (seeded by the run seed). */
export async function demoBaseModel({ recipe, run, ctl }: StageContext): Promise<ArtifactRef> {
  await ctl.gate();
  return train(recipe.execution, `initialise demo base model for ${run}`).initBaseModel({ run, seed: recipe.seed, demo: recipe.models.demo });
}
