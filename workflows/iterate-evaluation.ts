// Step 6 of an online iteration: evaluate the iterate π_t on held-out prompts (RM reward, win rate vs the SFT
// model, response length, KL to the reference, gold score) and make its row of the metrics table. Used by
// dpoIteration (which evaluates its own iterate when started alone, and for onlineDpo since patch
// `iterations-evaluate-themselves`, beside iteration t + 1) and by onlineDpo (which, between patches
// `evaluation-beside-next-iteration` and that one, evaluated π_t itself while iteration t + 1 already ran).
import type { ArtifactRef, Evaluation, PreparedData } from '../activities/types';
import type { EvalMetrics, IterationMetrics } from '../shared/messages';
import { iterationName } from '../shared/layout';
import type { RecipeOptions } from '../shared/recipe';
import { inference } from './activities';
import { engineSettings } from './common';

/** An iteration's row of the metrics table without its evaluation. */
export type IterationTraining = Omit<IterationMetrics, keyof EvalMetrics>;

export interface IterateToEvaluate {
  run: string;
  iteration: number;
  /** Options of the iteration (setNextIterationOptions changes applied). */
  recipe: RecipeOptions;
  policy: ArtifactRef;
  reference: ArtifactRef;
  rewardModel: ArtifactRef;
  data: PreparedData;
  /** The SFT baseline's committed evaluation (for the win rate). */
  sftEval: ArtifactRef | null;
}

/** Runs evaluateModel on rlhf-inference for iterate t. */
export function evaluateIterate(x: IterateToEvaluate): Promise<Evaluation> {
  const { recipe } = x;
  return inference(recipe.execution, `${iterationName(x.iteration)}: evaluate on ${recipe.evaluation.prompts} held-out prompts`).evaluateModel({
    run: x.run,
    stage: x.iteration,
    policy: x.policy,
    reference: x.reference,
    rewardModel: x.rewardModel,
    evalPrompts: x.data.evalPrompts,
    sftEval: x.sftEval,
    count: recipe.evaluation.prompts,
    temperature: recipe.evaluation.temperature,
    maxNewTokens: recipe.evaluation.maxNewTokens,
    stopStrings: recipe.online.stopStrings,
    task: x.data.task,
    seed: recipe.seed,
    engine: engineSettings(recipe),
  });
}

/** The metrics row: what the iteration trained on, and how its iterate evaluated. */
export function iterationMetrics(training: IterationTraining, evaluation: Evaluation): IterationMetrics {
  const { iteration, policy, ...rest } = training;
  return {
    iteration,
    policy,
    meanReward: evaluation.meanReward,
    winRateVsSft: evaluation.winRateVsSft,
    meanResponseLength: evaluation.meanResponseLength,
    kl: evaluation.kl,
    gold: evaluation.gold,
    prompts: evaluation.prompts,
    ...rest,
  };
}
