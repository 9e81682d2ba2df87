// onlineDpo / dpoIteration / stage workflows with mock activities on the real dev server: pause/resume,
// stopAfterIteration, continue-as-new carrying state, children started alone.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsQuery, pauseSignal, resumeSignal, setNextIterationOptionsUpdate, statusQuery, stopAfterIterationSignal } from '../../shared/messages';
import { RlhfIteration, RlhfStage } from '../../shared/search-attributes';
import { onlineDpo, rlhfPipeline, supervisedFineTune, trainRewardModel } from '../../workflows';
import { bundleWorkflows, eventually, rootCauseMessage, startHarness, type Harness } from './harness';

let bundle: WorkflowBundle;
let h: Harness;

beforeAll(async () => {
  bundle = await bundleWorkflows();
  h = await startHarness(bundle);
});

afterAll(async () => {
  await h?.close();
});

const models = { sft: 's3://models/m/sft', reward: 's3://models/m/rm' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('onlineDpo (mock activities)', () => {
  it('pause holds the next step (forwarded to the running iteration); resume continues', async () => {
    const id = h.id('pause');
    const gate = h.mocks.gate('trainDpo:1');
    const handle = await h.client.workflow.start(onlineDpo, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, recipe: h.recipe({ models }) }] });
    await gate.started;
    await handle.signal(pauseSignal, 'inspect the pairs');
    await eventually(async () => (await handle.query(statusQuery)).paused, 5000, 'status.paused');
    // the iteration child got the pause too
    await eventually(async () => (await h.client.workflow.getHandle(`${id}/iter-0001`).query(statusQuery)).paused, 5000, 'child paused');
    gate.release();
    await sleep(1500);
    // trainDpo finished, but neither the evaluation of π_1 nor iteration 2 started while paused
    expect(h.mocks.count('evaluateModel', (i) => i.run === id && i.stage === 1)).toBe(0);
    expect(h.mocks.count('selectPrompts', (i) => i.run === id && i.iteration === 2)).toBe(0);
    const status = await handle.query(statusQuery);
    // the iteration holds before evaluating its iterate (which it does itself, beside the next iteration, once it
    // has told the loop that π_1 is trained): it is still the loop's running child, and the root shows its step
    expect(status).toMatchObject({ paused: true, iteration: 1, step: 'evaluate', activeChild: `${id}/iter-0001` });

    await handle.signal(resumeSignal);
    const result = await handle.result();
    expect(result.iterations).toBe(2);
    expect(h.mocks.count('evaluateModel', (i) => i.run === id)).toBe(3);
  });

  it('pause on the pipeline reaches the iteration two levels down', async () => {
    const id = h.id('pause-pipeline');
    const gate = h.mocks.gate('generateShard:1:0');
    const handle = await h.client.workflow.start(rlhfPipeline, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, ...h.recipe({ models }) }] });
    await gate.started;
    await handle.signal(pauseSignal);
    await eventually(async () => (await h.client.workflow.getHandle(`${id}/iter-0001`).query(statusQuery)).paused, 5000, 'iteration paused');
    // Shard 1 may have been generated and its scoring started before the pause (shards are scored as soon as
    // they are generated); shard 0's scoring comes after the pause and waits for resume.
    gate.release();
    await sleep(1500);
    expect(h.mocks.count('scoreShard', (i) => i.run === id && i.shard === 0)).toBe(0);
    expect(h.mocks.count('buildPairs', (i) => i.run === id)).toBe(0);
    await handle.signal(resumeSignal);
    const result = await handle.result();
    expect(result.iterations).toBe(2);
  });

  it('scores each shard as soon as it is generated, while later shards still generate', async () => {
    const id = h.id('score-as-generated');
    const generation = h.mocks.gate('generateShard:1:1');
    const handle = await h.client.workflow.start(onlineDpo, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, recipe: h.recipe({ models }) }] });
    await generation.started;
    await eventually(async () => h.mocks.count('scoreShard', (i) => i.run === id && i.iteration === 1 && i.shard === 0) === 1, 10_000, 'shard 0 scored while shard 1 generates');
    const status = await h.client.workflow.getHandle(`${id}/iter-0001`).query(statusQuery);
    expect(status.step).toBe('generate');
    expect(status.shards).toEqual({ step: 'generate', done: 1, total: 2 });
    expect(h.mocks.count('scoreShard', (i) => i.run === id && i.shard === 1)).toBe(0);
    generation.release();
    const result = await handle.result();
    expect(result.iterations).toBe(2);
    expect(h.mocks.count('scoreShard', (i) => i.run === id && i.iteration === 1)).toBe(2);
  });

  it('stopAfterIteration finishes the current iteration and stops the loop', async () => {
    const id = h.id('stop');
    const gate = h.mocks.gate('buildPairs:1');
    const handle = await h.client.workflow.start(rlhfPipeline, {
      taskQueue: h.queues.control,
      workflowId: id,
      args: [{ run: id, ...h.recipe({ models, online: { iterations: 3 } }) }],
    });
    await gate.started;
    await handle.signal(stopAfterIterationSignal);
    await eventually(async () => (await handle.query(statusQuery)).stopAfterIteration === 1, 5000, 'stopAfterIteration = 1');
    gate.release();
    const result = await handle.result();
    expect(result.iterations).toBe(1);
    expect(result.stoppedEarly).toBe(true);
    expect(result.metrics.map((m) => m.iteration)).toEqual([0, 1]);
    expect(h.mocks.count('selectPrompts', (i) => i.run === id && i.iteration === 2)).toBe(0);
    expect(h.mocks.count('writeRunSummary', (i) => i.run === id && i.stoppedEarly === true)).toBe(1);
    const sa = (await handle.describe()).typedSearchAttributes;
    expect(sa.get(RlhfStage)).toBe('stopped');
    expect(sa.get(RlhfIteration)).toBe(1);
  });

  it("evaluates π_t beside iteration t + 1, and the metrics table stays in iteration order", async () => {
    const id = h.id('beside');
    const evaluation = h.mocks.gate('evaluateModel:1');
    const handle = await h.client.workflow.start(onlineDpo, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, recipe: h.recipe({ models }) }] });
    await evaluation.started;
    // while π_1 is being evaluated, iteration 2 generates, scores, pairs and trains
    await eventually(async () => h.mocks.count('trainDpo', (i) => i.run === id && i.iteration === 2) === 1, 10_000, 'iteration 2 trained during evaluation 1');
    // π_1's row waits for its evaluation; π_2's may already be there (its evaluation needs only the baseline's,
    // and iteration 2 can finish within a few workflow steps of its trainDpo call): rows stay in iteration order.
    const rows = (await handle.query(metricsQuery)).map((m) => m.iteration);
    expect(rows).not.toContain(1);
    expect(rows).toEqual([0, ...rows.slice(1).filter((r) => r === 2)]);
    evaluation.release();
    const result = await handle.result();
    expect(result.metrics.map((m) => m.iteration)).toEqual([0, 1, 2]);
    expect(result.metrics[1]).toMatchObject({ iteration: 1, policy: `runs/${id}/iter-0001/policy`, pairs: expect.any(Number), trainLoss: 0.5, k: expect.any(Number) });
    // each iterate is evaluated once, against the SFT baseline's committed evaluation
    const evals = h.mocks.calls.filter((c) => c.name === 'evaluateModel' && c.input.run === id).map((c) => c.input);
    expect(evals.map((e) => e.stage).sort()).toEqual([1, 2, 'sft']);
    expect(evals.filter((e) => e.stage !== 'sft').map((e) => e.sftEval)).toEqual([`runs/${id}/sft/eval`, `runs/${id}/sft/eval`]);
    // Each iteration scheduled π_t's evaluation itself, in the workflow task that saw its training end, together with
    // the signal that lets the loop start the next iteration (no round trip through the loop in between).
    for (const t of [1, 2]) expect(await commandsAfterTraining(`${id}/iter-000${t}`)).toEqual(expect.arrayContaining(['schedule evaluateModel', 'signal iterationTrained']));
  });

  it('each iteration evaluates its own iterate as soon as it is trained, and gets the SFT baseline’s evaluation when that lands later', async () => {
    const id = h.id('self-evaluating');
    const baseline = h.mocks.gate('evaluateModel:sft');
    const handle = await h.client.workflow.start(onlineDpo, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, recipe: h.recipe({ models }) }] });
    await baseline.started;
    // iteration 1 trains while the baseline is held, tells the loop, and the loop starts iteration 2 beside it
    await eventually(async () => h.mocks.count('trainDpo', (i) => i.run === id && i.iteration === 2) === 1, 10_000, 'iteration 2 trained while the baseline is held');
    // π_1's evaluation needs the baseline's (for the win rate): it waits for it, inside iteration 1
    expect(h.mocks.count('evaluateModel', (i) => i.run === id && i.stage === 1)).toBe(0);
    const iteration1 = h.client.workflow.getHandle(`${id}/iter-0001`);
    expect((await iteration1.describe()).status.name).toBe('RUNNING');
    expect(await iteration1.query(statusQuery)).toMatchObject({ iteration: 1, step: 'evaluate' });
    baseline.release();
    const result = await handle.result();
    expect(result.metrics.map((m) => m.iteration)).toEqual([0, 1, 2]);
    const evals = h.mocks.calls.filter((c) => c.name === 'evaluateModel' && c.input.run === id && c.input.stage !== 'sft').map((c) => c.input);
    expect(evals.map((e) => e.sftEval)).toEqual([`runs/${id}/sft/eval`, `runs/${id}/sft/eval`]);
    // Each iteration scheduled its evaluation itself, once the baseline's was handed to it (the test above shows it
    // scheduled with the signal that lets the loop go on). The loop's own history schedules only the baseline's.
    const iteration1Events = (await iteration1.fetchHistory()).events ?? [];
    expect(iteration1Events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'evaluateModel')).toHaveLength(1);
    expect(iteration1Events.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'sftBaseline')).toHaveLength(1);
    const loopEvaluations = ((await handle.fetchHistory()).events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'evaluateModel');
    expect(loopEvaluations).toHaveLength(1);
  });

  it('a stop after t − 1 sent while π_{t−1} is evaluated cancels iteration t, which had started beside it', async () => {
    const id = h.id('stop-beside');
    const evaluation = h.mocks.gate('evaluateModel:1');
    const generation = h.mocks.gate('generateShard:2:0');
    const handle = await h.client.workflow.start(onlineDpo, {
      taskQueue: h.queues.control,
      workflowId: id,
      args: [{ run: id, recipe: h.recipe({ models, online: { iterations: 3 } }) }],
    });
    await evaluation.started;
    await generation.started;
    await handle.signal(stopAfterIterationSignal, 1);
    const iteration2 = h.client.workflow.getHandle(`${id}/iter-0002`);
    await eventually(async () => (await iteration2.describe()).status.name === 'CANCELLED', 10_000, 'iteration 2 cancelled');
    generation.release();
    evaluation.release(); // the loop still waits for π_1's evaluation (its metrics row)
    const result = await handle.result();
    expect(result).toMatchObject({ iterations: 1, stoppedEarly: true, policy: `runs/${id}/iter-0001/policy` });
    expect(result.metrics.map((m) => m.iteration)).toEqual([0, 1]);
    expect(h.mocks.count('trainDpo', (i) => i.run === id && i.iteration === 2)).toBe(0);
  });

  it('a failed evaluation beside the loop fails the run and cancels the running iteration', async () => {
    const id = h.id('eval-fails');
    const generation = h.mocks.gate('generateShard:2:0');
    h.mocks.failOn('evaluateModel:1', ApplicationFailure.nonRetryable('reward model: missing score.weight', 'InvalidModel'));
    const handle = await h.client.workflow.start(onlineDpo, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, recipe: h.recipe({ models }) }] });
    const err = await handle.result().catch((e: unknown) => e);
    generation.release();
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(rootCauseMessage(err)).toMatch(/missing score\.weight/);
    expect(['CANCELLED', 'COMPLETED']).toContain((await h.client.workflow.getHandle(`${id}/iter-0002`).describe()).status.name);
    expect(h.mocks.count('trainDpo', (i) => i.run === id && i.iteration === 2)).toBe(0);
  });

  it('continues as new past the history threshold, carrying policy, metrics, pending options and stop', async () => {
    const id = h.id('can');
    const gate = h.mocks.gate('trainDpo:1');
    const handle = await h.client.workflow.start(onlineDpo, {
      taskQueue: h.queues.control,
      workflowId: id,
      args: [{ run: id, recipe: h.recipe({ models, online: { iterations: 4 }, execution: { continueAsNewAfterEvents: 1 } }) }],
    });
    const firstRunId = handle.firstExecutionRunId;
    await gate.started;
    const accepted = await handle.executeUpdate(setNextIterationOptionsUpdate, { args: [{ beta: 0.25 }] });
    expect(accepted.appliesFromIteration).toBe(2);
    await handle.signal(stopAfterIterationSignal, 3);
    gate.release();
    const result = await handle.result();

    expect(result.continuedAsNew).toBe(2); // after iterations 1 and 2; iteration 3 is the last one
    expect(result.iterations).toBe(3);
    expect(result.stoppedEarly).toBe(true);
    expect(result.metrics.map((m) => m.iteration)).toEqual([0, 1, 2, 3]);
    expect((await h.client.workflow.getHandle(id, firstRunId).describe()).status.name).toBe('CONTINUED_AS_NEW');

    const dpo = h.mocks.calls.filter((c) => c.name === 'trainDpo' && c.input.run === id).map((c) => c.input);
    expect(dpo.map((d) => d.iteration)).toEqual([1, 2, 3]);
    expect(dpo.map((d) => d.policy)).toEqual(['s3://models/m/sft', `runs/${id}/iter-0001/policy`, `runs/${id}/iter-0002/policy`]);
    expect(dpo.map((d) => d.hyper.beta)).toEqual([0.1, 0.25, 0.25]);
    // the SFT baseline is evaluated once, not again after continue-as-new
    expect(h.mocks.count('evaluateModel', (i) => i.run === id && i.stage === 'sft')).toBe(1);
    expect(h.mocks.count('prepareData', (i) => i.run === id)).toBe(1);
  });

  it('fails clearly when started alone without models', async () => {
    const err = await h.client.workflow
      .execute(onlineDpo, { taskQueue: h.queues.control, workflowId: h.id('nomodels'), args: [{ recipe: h.recipe() }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.message).toMatch(/onlineDpo needs an SFT policy and a reward model/);
  });

  it('supervisedFineTune and trainRewardModel run alone from {}-like input', async () => {
    const id = h.id('alone');
    const sft = await h.client.workflow.execute(supervisedFineTune, { taskQueue: h.queues.control, workflowId: `${id}-sft`, args: [{ run: id, recipe: h.recipe() }] });
    expect(sft.model).toBe(`runs/${id}/sft/checkpoint`);
    expect(sft.baseModel).toBe(`runs/${id}/base/model`);
    const rm = await h.client.workflow.execute(trainRewardModel, {
      taskQueue: h.queues.control,
      workflowId: `${id}-rm`,
      args: [{ run: id, recipe: h.recipe(), initFrom: sft.model }],
    });
    expect(rm.model).toBe(`runs/${id}/reward-model/checkpoint`);
    const names = h.mocks.calls.filter((c) => c.input.run === id).map((c) => c.name);
    expect(names).toEqual(['prepareData', 'initBaseModel', 'trainSft', 'prepareData', 'trainRewardModel']);
  });
});

/** The commands of the workflow task that saw a workflow's trainDpo activity complete. */
async function commandsAfterTraining(workflowId: string): Promise<Array<string | null>> {
  const events = (await h.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const trainDone = events.findIndex(
    (e) =>
      e.activityTaskCompletedEventAttributes &&
      events.find((x) => Number(x.eventId) === Number(e.activityTaskCompletedEventAttributes?.scheduledEventId))?.activityTaskScheduledEventAttributes?.activityType?.name === 'trainDpo',
  );
  const completed = events.findIndex((e, i) => i > trainDone && e.workflowTaskCompletedEventAttributes);
  const after = events.slice(completed + 1);
  const end = after.findIndex((e) => e.workflowTaskScheduledEventAttributes || e.activityTaskStartedEventAttributes || e.workflowExecutionSignaledEventAttributes || e.externalWorkflowExecutionSignaledEventAttributes);
  return (end < 0 ? after : after.slice(0, end)).map((e) =>
    e.activityTaskScheduledEventAttributes
      ? `schedule ${e.activityTaskScheduledEventAttributes.activityType?.name}`
      : e.signalExternalWorkflowExecutionInitiatedEventAttributes
        ? `signal ${e.signalExternalWorkflowExecutionInitiatedEventAttributes.signalName}`
        : null,
  );
}
