// Helpers shared by the workflows: option resolution with non-retryable failures, run names, engine and
// checkpoint settings, child workflow ids.
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import type { CheckpointSettings, EngineSettings } from '../activities/types';
import { ErrorType } from '../shared/errors';
import { checkRunName, iterationName } from '../shared/layout';
import { RecipeError, resolveRecipe, type RecipeOptions } from '../shared/recipe';

/** Resolves recipe options; invalid input fails the workflow (non-retryable, message lists every problem). */
export function resolveOrFail(input: unknown): RecipeOptions {
  try {
    return resolveRecipe(input ?? {});
  } catch (err) {
    if (err instanceof RecipeError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.InvalidOptions, err.problems);
    throw err;
  }
}

/** The run name: given, or the workflow id. Checked against the artifact layout's rules. */
export function runNameOrFail(run: string | undefined | null): string {
  const name = run ?? workflowInfo().workflowId;
  try {
    return checkRunName(name);
  } catch (err) {
    const hint = run ? '' : ` (the run name defaults to the workflow id; pass "run" to choose another)`;
    throw ApplicationFailure.nonRetryable(`${(err as Error).message}${hint}`, ErrorType.InvalidOptions);
  }
}

export function failInput(message: string): never {
  throw ApplicationFailure.nonRetryable(message, ErrorType.InvalidOptions);
}

export function engineSettings(recipe: RecipeOptions): EngineSettings {
  return { device: recipe.device, threads: recipe.execution.threads };
}

export function checkpointSettings(recipe: RecipeOptions): CheckpointSettings {
  return { everySteps: recipe.execution.checkpointEverySteps, everySeconds: recipe.execution.checkpointEverySeconds };
}

/** Child workflow ids: `${parentId}/sft`, `${parentId}/reward-model`, `${parentId}/online`, `${parentId}/iter-0001`. */
export const childId = {
  sft: (parent: string) => `${parent}/sft`,
  rewardModel: (parent: string) => `${parent}/reward-model`,
  online: (parent: string) => `${parent}/online`,
  iteration: (parent: string, iteration: number) => `${parent}/${iterationName(iteration)}`,
};
