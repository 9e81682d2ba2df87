// Stage 3 — online iterative DPO: for t = 1..T, run dpoIteration as a child (`${prefix}/iter-000t`), with
// the policy initialised from π_{t−1} and the reference from `recipe.online.reference`. Evaluates the SFT
// baseline first (metrics row 0). Honours pause/resume, stopAfterIteration and setNextIterationOptions
// between iterations, and continues as new (carrying its state) when the server suggests it or the history
// grows past `execution.continueAsNewAfterEvents`. A child of rlhfPipeline (`${pipelineId}/online`) and
// startable alone given an SFT policy and a reward model.
import { condition, continueAsNew, allHandlersFinished, patched, startChild, workflowInfo } from '@temporalio/workflow';
import type { ArtifactRef, PreparedData } from '../activities/types';
import type { IterationMetrics } from '../shared/messages';
import { applyNextIterationOptions, promptPoolSize, type NextIterationOptions, type OnlineOptions, type RecipeInput } from '../shared/recipe';
import { control, inference } from './activities';
import { childId, engineSettings, failInput, resolveOrFail, runNameOrFail } from './common';
import { RunControl } from './control';
import { dpoIteration } from './dpo-iteration';

/** What the loop carries across continue-as-new. */
export interface OnlineDpoState {
  /** Next iteration to run (1-based). */
  nextIteration: number;
  /** π_{t−1}: the latest iterate (the SFT model before iteration 1). */
  policy: ArtifactRef;
  /** Online options in force (setNextIterationOptions changes applied). */
  online: OnlineOptions;
  metrics: IterationMetrics[];
  sftEval: ArtifactRef | null;
  /** How many times this loop has continued as new. */
  continuedAsNew: number;
}

export interface OnlineDpoInput {
  run?: string;
  recipe?: RecipeInput;
  /** π0; default recipe.models.sft. */
  sftModel?: ArtifactRef | null;
  /** default recipe.models.reward. */
  rewardModel?: ArtifactRef | null;
  /** Prepared datasets; default: prepare them (demo task or recipe.data imports). */
  data?: PreparedData | null;
  root?: string | null;
  /** Iteration children get ids `${iterationIdPrefix}/iter-0001`; default: this workflow's id. */
  iterationIdPrefix?: string | null;
  paused?: boolean;
  stopAfterIteration?: number | null;
  pendingOptions?: NextIterationOptions | null;
  /** Set by continue-as-new. */
  state?: OnlineDpoState | null;
}

export interface OnlineDpoResult {
  run: string;
  /** Iterations completed. */
  iterations: number;
  /** The last iterate. */
  policy: ArtifactRef;
  /** The iterate with the highest held-out RM reward (the paper selects the best iterate on validation). */
  best: { iteration: number; policy: ArtifactRef; meanReward: number } | null;
  metrics: IterationMetrics[];
  stoppedEarly: boolean;
  continuedAsNew: number;
}

export async function onlineDpo(input: OnlineDpoInput = {}): Promise<OnlineDpoResult> {
  const recipe = resolveOrFail(input.recipe);
  const run = runNameOrFail(input.run);
  const exec = recipe.execution;
  const info = workflowInfo();
  const sftModel = input.sftModel ?? recipe.models.sft;
  const rewardModel = input.rewardModel ?? recipe.models.reward;
  if (!sftModel || !rewardModel) {
    failInput(`onlineDpo needs an SFT policy and a reward model: pass sftModel/rewardModel or recipe.models.sft/models.reward (s3:// HF-layout folders), or start rlhfPipeline`);
  }
  const root = input.root ?? info.workflowId;
  const prefix = input.iterationIdPrefix ?? info.workflowId;
  const state: OnlineDpoState = input.state ?? {
    nextIteration: 1,
    policy: sftModel,
    online: recipe.online,
    metrics: [],
    sftEval: null,
    continuedAsNew: 0,
  };
  let pending: NextIterationOptions | null = input.pendingOptions ?? null;
  let running: number | null = null;
  // Patch progress-reports-coalesced (control.ts), asked where it changes what this workflow sends.
  const coalesced = (): boolean => input.root !== undefined && input.root !== null && patched('progress-reports-coalesced');
  // rlhfPipeline (the parent and root) applies this workflow's final metrics from its result.
  const relayedToRoot = input.root !== undefined && input.root !== null && info.parent?.workflowId === input.root;

  const ctl = new RunControl(
    {
      workflow: info.workflowType,
      run,
      iterations: state.online.iterations,
      root: input.root ?? null,
      searchAttributes: exec.searchAttributes,
      paused: input.paused ?? false,
      stopAfterIteration: input.stopAfterIteration ?? null,
      metrics: state.metrics,
    },
    {
      onlineOptions: () => applyNextIterationOptions(state.online, pending ?? {}),
      onOptions: (change) => {
        pending = { ...(pending ?? {}), ...change };
        return running !== null ? running + 1 : state.nextIteration;
      },
      pending: () => pending,
    },
  ).install();
  ctl.setStage('online-dpo');
  if (state.nextIteration > 1) await ctl.report({ iteration: state.nextIteration - 1 });

  let data = input.data ?? null;
  if (!data) {
    await ctl.gate();
    data = await control(exec, `prepare data for ${run}`).prepareData({
      run,
      seed: recipe.seed,
      data: recipe.data,
      poolSize: promptPoolSize(recipe),
      shardSize: exec.shardSize,
    });
  }

  if (!state.sftEval) {
    await ctl.gate();
    await ctl.report({ stage: 'evaluate-sft' });
    ctl.setStage('evaluate-sft');
    const baseline = await inference(exec, `evaluate the SFT baseline of ${run}`).evaluateModel({
      run,
      stage: 'sft',
      policy: sftModel,
      reference: sftModel,
      rewardModel,
      evalPrompts: data.evalPrompts,
      sftEval: null,
      count: recipe.evaluation.prompts,
      temperature: recipe.evaluation.temperature,
      maxNewTokens: recipe.evaluation.maxNewTokens,
      stopStrings: state.online.stopStrings,
      task: data.task,
      seed: recipe.seed,
      engine: engineSettings(recipe),
    });
    state.sftEval = baseline.prefix;
    await ctl.report({
      stage: 'online-dpo',
      metrics: {
        iteration: 0,
        policy: sftModel,
        meanReward: baseline.meanReward,
        winRateVsSft: baseline.winRateVsSft,
        meanResponseLength: baseline.meanResponseLength,
        kl: baseline.kl,
        gold: baseline.gold,
        prompts: baseline.prompts,
        pairs: 0,
        prompts_used: 0,
        overlongPrompts: 0,
        droppedPrompts: 0,
        trainLoss: null,
        beta: null,
        learningRate: null,
        k: null,
      },
    });
    ctl.setStage('online-dpo');
  }

  let stoppedEarly = false;
  while (state.nextIteration <= state.online.iterations) {
    const t = state.nextIteration;
    const stopAt = ctl.stopAfterIteration;
    if (stopAt !== null && t > stopAt) {
      stoppedEarly = true;
      break;
    }
    await ctl.gate();
    if (pending) {
      state.online = applyNextIterationOptions(state.online, pending);
      pending = null;
    }
    running = t;
    // Since patch progress-reports-coalesced the iteration child tells the root this itself, with its first report.
    await ctl.report({ iteration: t, step: 'select-prompts', shards: null }, { unsent: true });
    const child = await startChild(dpoIteration, {
      workflowId: childId.iteration(prefix, t),
      taskQueue: exec.taskQueues.control,
      staticSummary: `${run} iteration ${t}/${state.online.iterations}`,
      args: [
        {
          run,
          iteration: t,
          recipe: { ...recipe, online: state.online },
          data,
          policy: state.policy,
          reference: state.online.reference === 'previous' ? state.policy : sftModel,
          sftModel,
          rewardModel,
          sftEval: state.sftEval,
          root,
          paused: ctl.paused,
        },
      ],
    });
    await ctl.setChild(child);
    const result = await child.result();
    await ctl.setChild(null);
    running = null;
    state.policy = result.policy;
    state.nextIteration = t + 1;
    const more = state.nextIteration <= state.online.iterations && (ctl.stopAfterIteration === null || state.nextIteration <= ctl.stopAfterIteration);
    if (coalesced()) {
      // The iteration's last report ('done') rides with its metrics. No wait for the root here: the next
      // iteration starts at once. After the last iteration the pipeline applies the result's metrics itself.
      await ctl.report({ metrics: result.metrics, step: 'done', shards: null }, { unsent: !more && relayedToRoot });
    } else {
      await ctl.report({ metrics: result.metrics }, { flush: true });
    }
    state.metrics = [...ctl.metrics];

    const info = workflowInfo();
    if (more && (info.continueAsNewSuggested || info.historyLength > exec.continueAsNewAfterEvents)) {
      await ctl.flushReports();
      await condition(allHandlersFinished);
      await continueAsNew<typeof onlineDpo>({
        ...input,
        recipe,
        sftModel,
        rewardModel,
        data,
        root: input.root ?? null,
        iterationIdPrefix: prefix,
        paused: ctl.paused,
        stopAfterIteration: ctl.stopAfterIteration,
        pendingOptions: pending,
        state: { ...state, metrics: [...ctl.metrics], continuedAsNew: state.continuedAsNew + 1 },
      });
    }
  }
  if (state.nextIteration <= state.online.iterations) stoppedEarly = true;

  ctl.setStage(stoppedEarly ? 'stopped' : 'completed');
  const iterates = ctl.metrics.filter((m) => m.iteration > 0);
  const best = iterates.reduce<IterationMetrics | null>((b, m) => (b === null || m.meanReward > b.meanReward ? m : b), null);
  await ctl.flushReports();
  await condition(allHandlersFinished);
  return {
    run,
    iterations: iterates.length,
    policy: state.policy,
    best: best ? { iteration: best.iteration, policy: best.policy, meanReward: best.meanReward } : null,
    metrics: [...ctl.metrics],
    stoppedEarly,
    continuedAsNew: state.continuedAsNew,
  };
}
