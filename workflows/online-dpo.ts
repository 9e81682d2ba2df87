// Stage 3 — online iterative DPO: for t = 1..T, run dpoIteration as a child (`${prefix}/iter-000t`), with
// the policy initialised from π_{t−1} and the reference from `recipe.online.reference`. Evaluates the SFT
// baseline first (metrics row 0). Honours pause/resume, stopAfterIteration and setNextIterationOptions
// between iterations, and continues as new (carrying its state) when the server suggests it or the history
// grows past `execution.continueAsNewAfterEvents`. A child of rlhfPipeline (`${pipelineId}/online`) and
// startable alone given an SFT policy and a reward model.
import {
  CancellationScope,
  condition,
  continueAsNew,
  allHandlersFinished,
  isCancellation,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { ArtifactRef, PreparedData } from '../activities/types';
import { iterationTrainedSignal, sftBaselineSignal, type IterationMetrics, type IterationTrained } from '../shared/messages';
import { applyNextIterationOptions, promptPoolSize, type NextIterationOptions, type OnlineOptions, type RecipeInput } from '../shared/recipe';
import { control, inference } from './activities';
import { childId, engineSettings, failInput, resolveOrFail, runNameOrFail } from './common';
import { RunControl } from './control';
import { dpoIteration, type DpoIterationResult } from './dpo-iteration';
import { evaluateIterate, iterationMetrics } from './iterate-evaluation';
import { hasPatch } from './patches';

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
  const coalesced = (): boolean => input.root !== undefined && input.root !== null && hasPatch('progress-reports-coalesced');
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

  // Since patch evaluation-beside-next-iteration evaluations run beside the iterations: the SFT baseline beside
  // iteration 1, and π_t's evaluation beside iteration t + 1 (nothing in iteration t + 1 reads it; it only needs
  // the baseline's, for the win rate). Evaluation is off the loop's critical path: on a cluster it runs on
  // another inference worker; on one worker it fills the time the next iteration spends starting.
  const beside = hasPatch('evaluation-beside-next-iteration');
  // Since patch iterations-evaluate-themselves (on top of the one above) iteration t evaluates π_t itself, scheduled
  // in the workflow task that sees its training end, and tells this workflow so (signal iterationTrained), which
  // then starts iteration t + 1 beside that evaluation: the child's close and a task of this workflow no longer
  // stand between training and evaluation. The child's result brings π_t's metrics.
  const selfEvaluating = beside && hasPatch('iterations-evaluate-themselves');
  const trained = new Map<number, IterationTrained>();
  if (selfEvaluating) {
    setHandler(iterationTrainedSignal, (x: IterationTrained) => {
      trained.set(x.iteration, x);
    });
  }
  /** Iterations started while the SFT baseline was still being evaluated: they get its evaluation by signal. */
  const awaitingBaseline = new Set<ChildWorkflowHandle<typeof dpoIteration>>();
  /** Evaluations running beside the loop, by iteration (0: the SFT baseline). */
  const evaluations = new Map<number, Promise<void>>();
  let evaluationFailure = null as { error: unknown } | null;
  const besideLoop = (iteration: number, work: () => Promise<void>): void => {
    const task = work().catch((error: unknown) => {
      evaluationFailure ??= { error };
    });
    evaluations.set(
      iteration,
      task.finally(() => evaluations.delete(iteration)),
    );
  };
  /** The first evaluation failure (a function: TypeScript cannot see the callbacks that set it). */
  const failure = (): { error: unknown } | null => evaluationFailure;
  const throwIfEvaluationFailed = (): void => {
    const f = failure();
    if (f) throw f.error;
  };
  /** Waits for every evaluation running beside the loop; rethrows the first failure. */
  const settleEvaluations = async (): Promise<void> => {
    while (evaluations.size > 0) await Promise.all(evaluations.values());
    throwIfEvaluationFailed();
  };

  if (!state.sftEval) {
    await ctl.gate();
    const baselineEvaluation = async (): Promise<void> => {
      if (!beside) {
        await ctl.report({ stage: 'evaluate-sft' });
        ctl.setStage('evaluate-sft');
      }
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
      const ref = baseline.prefix;
      const handedOver = [...awaitingBaseline].map((h) => h.signal(sftBaselineSignal, ref).catch(() => undefined));
      awaitingBaseline.clear();
      await ctl.report({
        ...(beside ? {} : { stage: 'online-dpo' as const }),
        metrics: iterationMetrics(
          { iteration: 0, policy: sftModel, pairs: 0, prompts_used: 0, overlongPrompts: 0, droppedPrompts: 0, trainLoss: null, beta: null, learningRate: null, k: null },
          baseline,
        ),
      });
      if (!beside) ctl.setStage('online-dpo');
      if (handedOver.length > 0) await Promise.all(handedOver);
    };
    if (beside) besideLoop(0, baselineEvaluation);
    else await baselineEvaluation();
  }

  /** Whether the loop goes on after the last finished iteration (iterations left, no stop before the next). */
  const moreToRun = (): boolean =>
    state.nextIteration <= state.online.iterations && (ctl.stopAfterIteration === null || state.nextIteration <= ctl.stopAfterIteration);
  let stoppedEarly = false;
  while (state.nextIteration <= state.online.iterations) {
    const t = state.nextIteration;
    throwIfEvaluationFailed();
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
    if (beside) {
      // Only this workflow's own status: the iteration child tells the root itself, with its first report (a
      // held report would go out later, merged into an evaluation's, and overwrite the child's newer step).
      ctl.showLocally({ iteration: t, step: 'select-prompts', shards: null });
    } else {
      // Since patch progress-reports-coalesced the iteration child tells the root this itself, with its first report.
      await ctl.report({ iteration: t, step: 'select-prompts', shards: null }, { unsent: true });
    }
    const iterationRecipe = { ...recipe, online: state.online };
    const reference = state.online.reference === 'previous' ? state.policy : sftModel;
    const sftEvalAtStart = state.sftEval;
    const runIteration = async (): Promise<DpoIterationResult> => {
      const child = await startChild(dpoIteration, {
        workflowId: childId.iteration(prefix, t),
        taskQueue: exec.taskQueues.control,
        staticSummary: `${run} iteration ${t}/${state.online.iterations}`,
        args: [
          {
            run,
            iteration: t,
            recipe: iterationRecipe,
            data,
            policy: state.policy,
            reference,
            sftModel,
            rewardModel,
            sftEval: state.sftEval,
            root,
            paused: ctl.paused,
            ...(selfEvaluating ? { announceTrained: true } : beside ? { evaluate: false } : {}),
          },
        ],
      });
      await ctl.setChild(child);
      if (selfEvaluating && sftEvalAtStart === null) {
        // The baseline's evaluation may have been committed while this child was starting.
        if (state.sftEval !== null) await child.signal(sftBaselineSignal, state.sftEval).catch(() => undefined);
        else awaitingBaseline.add(child);
      }
      return child.result();
    };
    let result: DpoIterationResult | IterationTrained;
    /** The iteration's result; with selfEvaluating it may still be evaluating π_t when the loop goes on. */
    let childResult: Promise<DpoIterationResult> | null = null;
    if (!beside) {
      result = await runIteration();
    } else {
      // Iteration t starts while π_{t−1} is still being evaluated. A stop after t − 1 sent during that evaluation
      // arrived when the sequential loop would not have started iteration t yet: honour it by cancelling t. A
      // failed evaluation fails the loop at once.
      const scope = new CancellationScope();
      const child = scope.run(runIteration);
      childResult = child;
      let settled = false;
      const interrupted = condition(
        () => settled || failure() !== null || (ctl.stopAfterIteration !== null && ctl.stopAfterIteration < t && evaluations.has(t - 1)),
      );
      // With selfEvaluating the loop goes on when π_t is trained (the child evaluates it meanwhile).
      const announced: Array<Promise<{ r: IterationTrained } | null>> = selfEvaluating
        ? [condition(() => settled || trained.has(t)).then(() => (trained.has(t) ? { r: trained.get(t) as IterationTrained } : null))]
        : [];
      const outcome = await Promise.race([settledOf(child), interrupted.then(() => null), ...announced]);
      settled = true;
      if (outcome === null) {
        scope.cancel();
        const late = await settledOf(child);
        throwIfEvaluationFailed();
        if ('error' in late) {
          if (!isCancellation(late.error)) throw late.error;
          await ctl.setChild(null);
          running = null;
          stoppedEarly = true;
          break;
        }
        result = late.r;
      } else if ('error' in outcome) {
        throw outcome.error;
      } else {
        result = outcome.r;
      }
    }
    await ctl.setChild(null);
    running = null;
    // (results recorded by older versions carry no `training`)
    state.policy = 'policy' in result ? result.policy : result.training.policy;
    state.nextIteration = t + 1;
    const more = moreToRun();
    if (selfEvaluating && childResult) {
      // π_t is evaluated by its iteration, beside iteration t + 1 (or, after the last iteration, alone).
      const evaluated = childResult;
      ctl.showLocally({ iteration: t, step: 'evaluate', shards: null });
      besideLoop(t, async () => {
        const done = await settledOf(evaluated);
        if ('error' in done) throw done.error;
        const metrics = done.r.metrics;
        if (!metrics) return;
        const last = t === state.nextIteration - 1 && !moreToRun();
        // After the last iteration the pipeline applies the result's metrics itself (as below).
        await ctl.report({ metrics, ...(last ? { step: 'done' as const, shards: null } : {}) }, { unsent: last && relayedToRoot });
      });
      // The root hears of this step only when nothing runs beside it (otherwise iteration t + 1 reports at once).
      if (!more) await ctl.report({ iteration: t, step: 'evaluate', shards: null });
    } else if (!('policy' in result)) {
      throw new Error(`iteration ${t} announced its iterate, but this run does not let iterations evaluate themselves`);
    } else if (beside || !result.metrics) {
      // π_t is evaluated beside iteration t + 1 (or, after the last iteration, alone).
      const training = result.training;
      ctl.showLocally({ iteration: t, step: 'evaluate', shards: null });
      await ctl.gate();
      const baseline = evaluations.get(0);
      const evaluate = () =>
        evaluateIterate({ run, iteration: t, recipe: iterationRecipe, policy: result.policy, reference, rewardModel, data, sftEval: state.sftEval });
      besideLoop(t, async () => {
        // Scheduled in this workflow task, ahead of any other command, unless the baseline is still running.
        const evaluating = baseline ? baseline.then(() => (failure() ? null : evaluate())) : evaluate();
        const evaluation = await evaluating;
        if (!evaluation) return;
        const metrics = iterationMetrics(training, evaluation);
        const last = t === state.nextIteration - 1 && !moreToRun();
        // After the last iteration the pipeline applies the result's metrics itself (as below).
        await ctl.report({ metrics, ...(last ? { step: 'done' as const, shards: null } : {}) }, { unsent: last && relayedToRoot });
      });
      // The root hears of this step only when nothing runs beside it (otherwise iteration t + 1 reports at once).
      if (!more) await ctl.report({ iteration: t, step: 'evaluate', shards: null });
    } else if (coalesced()) {
      // The iteration's last report ('done') rides with its metrics. No wait for the root here: the next
      // iteration starts at once. After the last iteration the pipeline applies the result's metrics itself.
      await ctl.report({ metrics: result.metrics, step: 'done', shards: null }, { unsent: !more && relayedToRoot });
    } else {
      await ctl.report({ metrics: result.metrics }, { flush: true });
    }
    state.metrics = [...ctl.metrics];

    const info = workflowInfo();
    if (more && (info.continueAsNewSuggested || info.historyLength > exec.continueAsNewAfterEvents)) {
      await settleEvaluations();
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
  await settleEvaluations();

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

/** A promise's outcome as a value: { r } when it resolved, { error } when it rejected. */
function settledOf<T>(p: Promise<T>): Promise<{ r: T } | { error: unknown }> {
  return p.then(
    (r) => ({ r }),
    (error: unknown) => ({ error }),
  );
}
