// One online DPO iteration t (recipe step 3): orchestration only — S3 keys and small metrics in and out.
//   1. select the iteration's prompts (a disjoint seeded slice of the pool)            rlhf-control
//   2. generate K responses per prompt with π_{t−1}, in shards, bounded window         rlhf-inference
//   3. score every response with the reward model, each shard once it is generated     rlhf-inference
//   4. build preference pairs (selector, tie rule, margin, length penalty)             rlhf-control
//   5. DPO on this iteration's pairs, policy initialised from π_{t−1}                  rlhf-train
//   6. evaluate the iterate on held-out prompts (RM reward, win rate vs SFT, KL, gold) rlhf-inference
//      (under onlineDpo: after telling it π_t is trained, so that iteration t + 1 starts beside the evaluation)
// The iterate's checkpoint is published at runs/<run>/iter-NNNN/policy (committed by the training step).
import { condition, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ArtifactRef, BuiltPairs, Evaluation, GeneratedShard, PreparedData, ScoredShard, TrainedModel } from '../activities/types';
import { iterationTrainedSignal, sftBaselineSignal, type IterationMetrics } from '../shared/messages';
import { iterationName } from '../shared/layout';
import type { RecipeOptions } from '../shared/recipe';
import { control, inference, shortControl, train } from './activities';
import { checkpointSettings, engineSettings, resolveOrFail } from './common';
import { RunControl } from './control';
import { evaluateIterate, iterationMetrics, type IterationTraining } from './iterate-evaluation';
import { inWindows } from './window';
import { hasPatch } from './patches';

export interface DpoIterationInput {
  run: string;
  /** t, 1-based. */
  iteration: number;
  /** Full recipe options, with any setNextIterationOptions changes already applied to `online`. */
  recipe: RecipeOptions;
  data: PreparedData;
  /** π_{t−1}. */
  policy: ArtifactRef;
  /** π_ref (the SFT model, or π_{t−1} when recipe.online.reference = 'previous'). */
  reference: ArtifactRef;
  sftModel: ArtifactRef;
  rewardModel: ArtifactRef;
  /** Committed baseline evaluation (for the win rate vs SFT). */
  sftEval: ArtifactRef | null;
  root?: string | null;
  paused?: boolean;
  /**
   * Evaluate the iterate here (step 6; default true). onlineDpo passed false between patches
   * `evaluation-beside-next-iteration` (it evaluated π_t itself while iteration t + 1 already ran) and
   * `iterations-evaluate-themselves` (it passes `announceTrained` instead).
   */
  evaluate?: boolean;
  /**
   * Set by onlineDpo since patch `iterations-evaluate-themselves` (with evaluate true): once π_t is trained, tell the
   * parent (signal `iterationTrained`, sent with the evaluation's scheduling) and evaluate π_t here while the parent
   * starts iteration t + 1. Without `sftEval` the evaluation waits for the parent's `sftBaseline` signal.
   */
  announceTrained?: boolean;
}

export interface DpoIterationResult {
  iteration: number;
  /** π_t (equals π_{t−1} when no pair survived selection). */
  policy: ArtifactRef;
  prompts: ArtifactRef;
  generations: ArtifactRef[];
  scores: ArtifactRef[];
  pairs: BuiltPairs;
  train: TrainedModel | null;
  /** Null when the input said evaluate: false. */
  evaluation: Evaluation | null;
  overlongPrompts: number;
  droppedPrompts: number;
  /** The iteration's metrics row without its evaluation. */
  training: IterationTraining;
  /** The full row; null when the input said evaluate: false. */
  metrics: IterationMetrics | null;
}

export async function dpoIteration(input: DpoIterationInput): Promise<DpoIterationResult> {
  const recipe = resolveOrFail(input.recipe);
  const { run, iteration: t } = input;
  const o = recipe.online;
  const exec = recipe.execution;
  const engine = engineSettings(recipe);
  const it = iterationName(t);
  const ctl = new RunControl(
    {
      workflow: workflowInfo().workflowType,
      run,
      iterations: o.iterations,
      root: input.root ?? null,
      searchAttributes: exec.searchAttributes,
      paused: input.paused ?? false,
    },
    { onlineOptions: () => o },
  ).install();
  ctl.setStage('online-dpo');
  // The SFT baseline's evaluation (win rate vs SFT): from the input, or from the parent once it is committed.
  let sftEval = input.sftEval;
  setHandler(sftBaselineSignal, (ref: ArtifactRef) => {
    sftEval ??= ref;
  });
  // Since patch progress-reports-coalesced the root learns the iteration from the 'generate' report: prompt
  // selection is a local activity, so this report's commands would only leave with that one's anyway.
  await ctl.report({ iteration: t, step: 'select-prompts', shards: null }, { unsent: true });

  // 1. prompts
  await ctl.gate();
  const prompts = await shortControl(exec, `${it}: select ${o.promptsPerIteration} prompts`).selectPrompts({
    run,
    iteration: t,
    promptPool: input.data.promptPool,
    count: o.promptsPerIteration,
    seed: recipe.seed,
    shardSize: exec.shardSize,
  });
  const total = prompts.shards.length;

  // 2–3. generation and scoring, in a bounded window of shards
  const generateShard = (s: (typeof prompts.shards)[number]): Promise<GeneratedShard> =>
    inference(exec, `${it}: generate shard ${s.shard + 1}/${total} (K=${o.k})`).generateShard({
      run,
      iteration: t,
      shard: s.shard,
      start: s.start,
      prompts: prompts.prefix,
      policy: input.policy,
      k: o.k,
      temperatures: o.temperatures,
      topP: o.topP,
      maxNewTokens: o.maxNewTokens,
      stopStrings: o.stopStrings,
      maxPromptLength: o.maxPromptLength,
      overlongPrompt: o.overlongPrompt,
      seed: recipe.seed,
      engine,
    });
  const scoreShard = (g: GeneratedShard): Promise<ScoredShard> =>
    inference(exec, `${it}: score shard ${g.shard + 1}/${total}`).scoreShard({
      run,
      iteration: t,
      shard: g.shard,
      start: g.start,
      generations: g.prefix,
      rewardModel: input.rewardModel,
      k: o.k,
      engine,
    });
  let generated: GeneratedShard[];
  let scored: ScoredShard[];
  await ctl.report({ iteration: t, step: 'generate', shards: { step: 'generate', done: 0, total } });
  if (hasPatch('score-shards-as-generated')) {
    // Each shard is scored as soon as it is generated, in the same window slot: scoring needs only that shard's
    // generations, so the scores of the first shards are queued while the last ones generate (on one inference
    // worker the order stays generate 1…n, score 1…n, with no workflow-task round trip between the two phases;
    // on several workers scoring overlaps generation). The status shows generation until every shard is
    // generated, then scoring with the shards already scored.
    let generatedCount = 0;
    let scoredCount = 0;
    const both = await inWindows(prompts.shards, exec.inferenceWindow, async (s) => {
      await ctl.gate();
      const g = await generateShard(s);
      generatedCount++;
      await ctl.report(
        generatedCount < total
          ? { shards: { step: 'generate', done: generatedCount, total } }
          : { step: 'score', shards: { step: 'score', done: scoredCount, total } },
      );
      await ctl.gate();
      const sc = await scoreShard(g);
      scoredCount++;
      // While shards still generate the status shows generation; the last score's report is superseded by the
      // 'build-pairs' report made in the same workflow task.
      if (generatedCount === total) await ctl.report({ shards: { step: 'score', done: scoredCount, total } }, { unsent: scoredCount === total });
      return { g, sc };
    });
    generated = both.map((x) => x.g);
    scored = both.map((x) => x.sc);
  } else {
    let done = 0;
    generated = await inWindows(prompts.shards, exec.inferenceWindow, async (s) => {
      await ctl.gate();
      const out = await generateShard(s);
      // The last shard's report is superseded by the 'score' report made in the same workflow task.
      await ctl.report({ shards: { step: 'generate', done: ++done, total } }, { unsent: done === total });
      return out;
    });
    await ctl.report({ step: 'score', shards: { step: 'score', done: 0, total } });
    done = 0;
    scored = await inWindows(generated, exec.inferenceWindow, async (g) => {
      await ctl.gate();
      const out = await scoreShard(g);
      // The last shard's report is superseded by the 'build-pairs' report made in the same workflow task.
      await ctl.report({ shards: { step: 'score', done: ++done, total } }, { unsent: done === total });
      return out;
    });
  }

  // 4. pairs
  await ctl.report({ step: 'build-pairs', shards: null });
  await ctl.gate();
  const pairs = await control(exec, `${it}: build pairs (${o.pairSelector})`).buildPairs({
    run,
    iteration: t,
    scores: scored.map((s) => ({ shard: s.shard, start: s.start, prefix: s.prefix })),
    k: o.k,
    options: { selector: o.pairSelector, tieRule: o.tieRule, marginThreshold: o.marginThreshold, lengthPenalty: o.lengthPenalty },
    seed: recipe.seed,
  });

  // 5. DPO (skipped when selection kept no pair: the iterate is π_{t−1})
  await ctl.report({ step: 'train' });
  await ctl.gate();
  let trained: TrainedModel | null = null;
  if (pairs.stats.pairs > 0) {
    trained = await train(exec, `${it}: DPO on ${pairs.stats.pairs} pairs (β=${o.beta}, lr=${o.learningRate})`).trainDpo({
      run,
      iteration: t,
      policy: input.policy,
      reference: input.reference,
      pairs: pairs.prefix,
      hyper: {
        learningRate: o.learningRate,
        schedule: o.schedule,
        warmupRatio: o.warmupRatio,
        epochs: o.epochs,
        batchSize: o.batchSize,
        gradientAccumulation: o.gradientAccumulation,
        maxLength: o.maxLength,
        maxPromptLength: o.maxPromptLength,
        overlongPrompt: o.overlongPrompt,
        weightDecay: o.weightDecay,
        maxGradNorm: o.maxGradNorm,
        beta: o.beta,
        labelSmoothing: o.labelSmoothing,
        rpoAlpha: o.rpoAlpha,
        lossType: o.lossType,
      },
      seed: recipe.seed,
      checkpoint: checkpointSettings(recipe),
      engine,
    });
  }
  const policy = trained?.model ?? input.policy;

  const training: IterationTraining = {
    iteration: t,
    policy,
    pairs: pairs.stats.pairs,
    prompts_used: prompts.count,
    overlongPrompts: generated.reduce((a, g) => a + g.overlong, 0),
    droppedPrompts: generated.reduce((a, g) => a + g.dropped, 0),
    trainLoss: trained?.finalLoss ?? null,
    beta: o.beta,
    learningRate: o.learningRate,
    k: o.k,
  };

  // 6. evaluation
  let evaluation: Evaluation | null = null;
  if (input.evaluate ?? true) {
    const parent = workflowInfo().parent;
    let announced: Promise<void> | null = null;
    if (input.announceTrained && parent) {
      // Iteration t + 1 reports to the root as soon as it starts, so this step reaches the root only while paused
      // here (gate() sends what was held back).
      await ctl.report({ step: 'evaluate' }, { unsent: true });
      await ctl.gate();
      // The parent starts iteration t + 1 on this signal, and π_t's evaluation is scheduled in the same workflow
      // task: no round trip through the parent stands between training and evaluation.
      announced = getExternalWorkflowHandle(parent.workflowId, parent.runId)
        .signal(iterationTrainedSignal, { iteration: t, training })
        .catch(() => undefined);
      // Started beside a baseline evaluation still running: the parent sends it when it is committed.
      if (sftEval === null) await condition(() => sftEval !== null);
    } else {
      await ctl.report({ step: 'evaluate' });
      await ctl.gate();
    }
    evaluation = await evaluateIterate({
      run,
      iteration: t,
      recipe,
      policy,
      reference: input.reference,
      rewardModel: input.rewardModel,
      data: input.data,
      sftEval,
    });
    // A workflow must not close with a signal in flight.
    await announced;
    // onlineDpo relays 'done' with this iteration's metrics; nothing may be in flight when this workflow closes.
    await ctl.report({ step: 'done', shards: null }, { flush: true, unsent: true });
  }
  await ctl.flushReports();
  ctl.setStage('completed');
  return {
    iteration: t,
    policy,
    prompts: prompts.prefix,
    generations: generated.map((g) => g.prefix),
    scores: scored.map((s) => s.prefix),
    pairs,
    train: trained,
    evaluation,
    overlongPrompts: training.overlongPrompts ?? 0,
    droppedPrompts: training.droppedPrompts ?? 0,
    training,
    metrics: evaluation ? iterationMetrics(training, evaluation) : null,
  };
}
