// Signals, queries and updates of the RLHF workflows, with the small types they carry. Handlers are
// installed with a `description` (shown in the Temporal UI) from DESCRIPTIONS below.
// Pure module: workflows, the CLI and tests import it.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { NextIterationOptions } from './recipe';

/** Where a workflow is: pipeline stages, then one iteration's steps. */
export type StageName =
  | 'starting'
  | 'prepare-data'
  | 'base-model'
  | 'sft'
  | 'reward-model'
  | 'evaluate-sft'
  | 'online-dpo'
  | 'summary'
  | 'completed'
  | 'stopped'
  | 'failed';

export type IterationStep = 'select-prompts' | 'generate' | 'score' | 'build-pairs' | 'train' | 'evaluate' | 'done';

/** Evaluation of one model on the held-out prompts (evaluate activity). */
export interface EvalMetrics {
  /** Mean RM reward of the model's responses. */
  meanReward: number;
  /** Fraction of prompts where the RM prefers the model's response over the SFT model's (ties count ½). */
  winRateVsSft: number;
  /** Mean response length in characters. */
  meanResponseLength: number;
  /** KL(π‖π_ref) estimate: mean over sampled responses of log π(y|x) − log π_ref(y|x). */
  kl: number;
  /** Mean gold score when the task has a grader. */
  gold: number | null;
  prompts: number;
}

/** One row of the metrics table (iteration 0 is the SFT baseline). */
export interface IterationMetrics extends EvalMetrics {
  iteration: number;
  /** s3:// folder of the iterate. */
  policy: string;
  /** Pairs kept / prompts of the iteration (0 for the baseline). */
  pairs: number;
  prompts_used: number;
  /** Prompts over maxPromptLength tokens in this iteration (dropped when overlongPrompt = 'drop'). */
  overlongPrompts?: number;
  droppedPrompts?: number;
  trainLoss: number | null;
  /** DPO hyper-parameters the iteration ran with. */
  beta: number | null;
  learningRate: number | null;
  k: number | null;
}

export interface ShardProgress {
  step: IterationStep;
  done: number;
  total: number;
}

/** Answer of the `status` query. */
export interface RunStatus {
  workflow: string;
  run: string;
  stage: StageName;
  paused: boolean;
  /** Current (or last started) online iteration, 0 before the loop. */
  iteration: number;
  iterations: number;
  step: IterationStep | null;
  shards: ShardProgress | null;
  stopAfterIteration: number | null;
  /** Changes accepted by setNextIterationOptions, not yet applied. */
  pendingOptions: NextIterationOptions | null;
  lastMetrics: IterationMetrics | null;
  bestReward: number | null;
  /** Id of the child workflow now running (query it for finer progress). */
  activeChild: string | null;
  models: { sft: string | null; reward: string | null; policy: string | null };
}

/** Progress a child reports to the root workflow (internal signal). */
export interface ProgressReport {
  from: string;
  stage?: StageName;
  iteration?: number;
  step?: IterationStep | null;
  shards?: ShardProgress | null;
  metrics?: IterationMetrics;
  models?: Partial<RunStatus['models']>;
}

export interface SetNextIterationOptionsResult {
  /** First iteration that runs with the change. */
  appliesFromIteration: number;
  /** Every change accepted so far and not yet applied. */
  pending: NextIterationOptions;
}

export const DESCRIPTIONS = {
  status: 'Where the run is: stage, iteration, step and shard progress, last metrics, pending changes.',
  metrics: 'Per-iteration metrics table (iteration 0 = SFT baseline): RM reward, win rate vs SFT, length, KL, gold.',
  pause: 'Pause at the next step boundary (running activities finish; nothing new starts).',
  resume: 'Resume after pause.',
  stopAfterIteration: 'Finish iteration N (default: the current one), evaluate, and stop the loop there.',
  setNextIterationOptions: 'Change beta, learningRate, k or temperatures for the iterations that start after this (validated).',
  progress: 'Internal: progress report from a child workflow.',
} as const;

export const statusQuery = defineQuery<RunStatus>('status');
export const metricsQuery = defineQuery<IterationMetrics[]>('metrics');
export const pauseSignal = defineSignal<[reason?: string]>('pause');
export const resumeSignal = defineSignal('resume');
/** Argument: the iteration to stop after; omitted → the current one (or the first, before the loop). */
export const stopAfterIterationSignal = defineSignal<[iteration?: number]>('stopAfterIteration');
export const setNextIterationOptionsUpdate = defineUpdate<SetNextIterationOptionsResult, [NextIterationOptions]>('setNextIterationOptions');
/** Internal: the parent forwards an accepted setNextIterationOptions change to its running child. */
export const applyNextIterationOptionsSignal = defineSignal<[NextIterationOptions]>('applyNextIterationOptions');
/** Internal: children report progress to the root workflow. */
export const progressSignal = defineSignal<[ProgressReport]>('progress');

/** What an online iteration tells onlineDpo once its iterate π_t is trained, before it evaluates π_t. */
export interface IterationTrained {
  iteration: number;
  /** π_t's row of the metrics table without its evaluation (`policy` is π_t). */
  training: Omit<IterationMetrics, keyof EvalMetrics>;
}
/** Internal: an iteration tells its parent (onlineDpo) that π_t is trained; the parent starts iteration t + 1. */
export const iterationTrainedSignal = defineSignal<[IterationTrained]>('iterationTrained');
/** Internal: onlineDpo hands an iteration the SFT baseline's committed evaluation (s3://), which the iteration's own
 * evaluation needs for the win rate, when that baseline was still running as the iteration started. */
export const sftBaselineSignal = defineSignal<[sftEval: string]>('sftBaseline');
