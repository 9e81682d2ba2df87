// The whole recipe as one durable run: prepare data → base model → SFT → reward model → online iterative
// DPO (T iterations) → run summary. One object input; every field has a default, so `{}` runs the demo
// configuration. Stages are skipped when the input names an existing model: `models.sft` (an s3:// HF-layout
// folder) skips the base model and SFT, `models.reward` skips the reward model.
//
// Children: `${id}/sft` (supervisedFineTune), `${id}/reward-model` (trainRewardModel), `${id}/online`
// (onlineDpo), whose iterations are `${id}/iter-0001`, ... (dpoIteration).
import { allHandlersFinished, condition, isCancellation, startChild, workflowInfo, type ChildWorkflowHandle } from '@temporalio/workflow';
import type { ArtifactRef, ControlActivities } from '../activities/types';
import type { IterationMetrics } from '../shared/messages';
import { applyNextIterationOptions, promptPoolSize, type NextIterationOptions, type RecipeInput, type RecipeOptions } from '../shared/recipe';
import { control, shortControl, train } from './activities';
import { childId, resolveOrFail, runNameOrFail } from './common';
import { RunControl } from './control';
import { onlineDpo, type OnlineDpoResult } from './online-dpo';
import { supervisedFineTune } from './supervised-fine-tune';
import { trainRewardModel } from './train-reward-model';
import { hasPatch } from './patches';

/** The recipe options (shared/recipe.ts) plus the run name. Every field is optional. */
export interface RlhfPipelineInput extends RecipeInput {
  /** Run name: artifacts go under runs/<run>/ (default: the workflow id). */
  run?: string;
}

export interface RlhfPipelineResult {
  run: string;
  models: { base: ArtifactRef | null; sft: ArtifactRef; reward: ArtifactRef; final: ArtifactRef; best: ArtifactRef };
  /** Stages not run because the input supplied their model. */
  skipped: Array<'base-model' | 'sft' | 'reward-model'>;
  metrics: IterationMetrics[];
  iterations: number;
  stoppedEarly: boolean;
  summary: ArtifactRef;
  config: ArtifactRef;
}

export async function rlhfPipeline(input: RlhfPipelineInput = {}): Promise<RlhfPipelineResult> {
  const { run: runInput, ...recipeInput } = input ?? {};
  let ctlRef: RunControl | null = null;
  try {
    return await pipeline(runInput, recipeInput, (c) => (ctlRef = c));
  } catch (err) {
    // Visible in the UI list (RlhfStage = failed) and the status query; cancellation keeps its own status.
    if (ctlRef && !isCancellation(err)) (ctlRef as RunControl).setStage('failed');
    throw err;
  }
}

async function pipeline(runInput: string | undefined, recipeInput: RecipeInput, register: (c: RunControl) => void): Promise<RlhfPipelineResult> {
  const recipe: RecipeOptions = resolveOrFail(recipeInput);
  const run = runNameOrFail(runInput);
  const exec = recipe.execution;
  const id = workflowInfo().workflowId;

  // Every accepted setNextIterationOptions change; forwarded to the online child when it runs.
  let known = recipe.online;
  let pending: NextIterationOptions | null = null;
  let online: ChildWorkflowHandle<typeof onlineDpo> | null = null;
  const ctl: RunControl = new RunControl(
    { workflow: workflowInfo().workflowType, run, iterations: recipe.online.iterations, root: null, searchAttributes: exec.searchAttributes },
    {
      onlineOptions: () => known,
      onOptions: async (change): Promise<number> => {
        known = applyNextIterationOptions(known, change);
        if (online && (await ctl.forwardOptions(change))) return ctl.status.iteration + 1;
        pending = { ...(pending ?? {}), ...change };
        return Math.max(1, ctl.status.iteration + 1);
      },
      pending: () => pending,
    },
  ).install();
  register(ctl);

  // 1. data and the resolved configuration
  ctl.setStage('prepare-data');
  const config = await shortControl(exec, `record the configuration of ${run}`).recordRunConfig({ run, workflowId: id, options: recipe });
  await ctl.gate();
  const prepareData = (): ReturnType<ControlActivities['prepareData']> =>
    control(exec, `prepare data for ${run}`).prepareData({ run, seed: recipe.seed, data: recipe.data, poolSize: promptPoolSize(recipe), shardSize: exec.shardSize });
  const initBaseModel = (): Promise<ArtifactRef> => train(exec, `initialise demo base model for ${run}`).initBaseModel({ run, seed: recipe.seed, demo: recipe.models.demo });
  const needsBase = !recipe.models.sft && !recipe.models.base;
  // Since patch prepare-data-beside-base-model the demo base model is initialised while the data is prepared
  // (neither reads the other; they run on different queues): a pause sent meanwhile holds the step after both.
  const beside = needsBase && hasPatch('prepare-data-beside-base-model');
  const baseBeside = beside ? initBaseModel() : null;
  // A data-preparation failure fails the run at once (the base model's running attempt is left to end on its own;
  // its result is refused); a base-model failure fails the run once the data is prepared (awaited below).
  baseBeside?.catch(() => undefined);
  const data = await prepareData();

  const skipped: RlhfPipelineResult['skipped'] = [];
  // 2. base model + SFT (skipped when models.sft is given)
  let base: ArtifactRef | null = recipe.models.base;
  let sft: ArtifactRef;
  if (recipe.models.sft) {
    sft = recipe.models.sft;
    skipped.push('base-model', 'sft');
  } else {
    if (baseBeside) {
      ctl.setStage('base-model');
      base = await baseBeside;
    } else if (!base) {
      await ctl.gate();
      ctl.setStage('base-model');
      base = await initBaseModel();
    } else {
      skipped.push('base-model');
    }
    await ctl.gate();
    ctl.setStage('sft');
    const child = await startChild(supervisedFineTune, {
      workflowId: childId.sft(id),
      taskQueue: exec.taskQueues.control,
      staticSummary: `${run}: supervised fine-tuning`,
      args: [{ run, recipe, baseModel: base, data: data.sft, root: id }],
    });
    await ctl.setChild(child);
    sft = (await child.result()).model;
    await ctl.setChild(null);
  }
  await ctl.report({ models: { sft } });

  // 3. reward model (skipped when models.reward is given); initialised from the SFT policy
  let reward: ArtifactRef;
  if (recipe.models.reward) {
    reward = recipe.models.reward;
    skipped.push('reward-model');
  } else {
    await ctl.gate();
    ctl.setStage('reward-model');
    const child = await startChild(trainRewardModel, {
      workflowId: childId.rewardModel(id),
      taskQueue: exec.taskQueues.control,
      staticSummary: `${run}: Bradley–Terry reward model`,
      args: [{ run, recipe, initFrom: sft, data: data.preferences, root: id }],
    });
    await ctl.setChild(child);
    reward = (await child.result()).model;
    await ctl.setChild(null);
  }
  await ctl.report({ models: { reward } });

  // 4. online iterative DPO
  await ctl.gate();
  ctl.setStage('online-dpo');
  const sentPending = pending;
  pending = null;
  online = await startChild(onlineDpo, {
    workflowId: childId.online(id),
    taskQueue: exec.taskQueues.control,
    staticSummary: `${run}: online iterative DPO, ${recipe.online.iterations} iteration(s)`,
    args: [
      {
        run,
        recipe,
        sftModel: sft,
        rewardModel: reward,
        data,
        root: id,
        iterationIdPrefix: id,
        paused: ctl.paused,
        stopAfterIteration: ctl.stopAfterIteration,
        pendingOptions: sentPending,
      },
    ],
  });
  // Changes accepted between building the input and now are forwarded here.
  const late: NextIterationOptions | null = pending;
  pending = null;
  await ctl.setChild(online, late);
  const result: OnlineDpoResult = await online.result();
  online = null;
  await ctl.setChild(null);
  // Since patch progress-reports-coalesced the online child leaves its last report (the last iteration's
  // metrics, step 'done') to this workflow.
  if (hasPatch('progress-reports-coalesced')) {
    for (const metrics of result.metrics) await ctl.report({ metrics });
    await ctl.report({ step: 'done', shards: null });
  }

  // 5. summary
  ctl.setStage('summary');
  const finalPolicy = result.policy;
  const bestPolicy = result.best?.policy ?? finalPolicy;
  const summary = await control(exec, `write the run summary of ${run}`).writeRunSummary({
    run,
    workflowId: id,
    options: recipe,
    models: { base, sft, reward, final: finalPolicy, best: bestPolicy },
    metrics: result.metrics,
    stoppedEarly: result.stoppedEarly,
  });
  await ctl.report({ models: { policy: finalPolicy } });
  ctl.setStage(result.stoppedEarly ? 'stopped' : 'completed');
  await condition(allHandlersFinished);
  return {
    run,
    models: { base, sft, reward, final: finalPolicy, best: bestPolicy },
    skipped,
    metrics: result.metrics,
    iterations: result.iterations,
    stoppedEarly: result.stoppedEarly,
    summary,
    config,
  };
}
