// rlhfPipeline with mock activities on the real dev server: stage order, child ids, stage skipping, input
// validation, search attributes, live details, and setNextIterationOptions forwarded to the running loop.
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsQuery, setNextIterationOptionsUpdate, statusQuery, stopAfterIterationSignal } from '../../shared/messages';
import { RECIPE_DEFAULTS } from '../../shared/recipe';
import { RlhfBestReward, RlhfBeta, RlhfIteration, RlhfLearningRate, RlhfRun, RlhfStage } from '../../shared/search-attributes';
import { rlhfPipeline } from '../../workflows';
import { bundleWorkflows, eventually, rootCauseMessage, saveHistory, startHarness, type Harness } from './harness';
import { EPOCH_ID } from '../../workflows/patches';

const models = { sft: 's3://models/m/sft', reward: 's3://models/m/rm' };
let bundle: WorkflowBundle;
let h: Harness;

beforeAll(async () => {
  bundle = await bundleWorkflows();
  h = await startHarness(bundle);
});

afterAll(async () => {
  await h?.close();
});

describe('rlhfPipeline (mock activities)', () => {
  it('runs data → base → SFT → RM → T iterations (evaluations beside them) → summary, with child ids under the pipeline id', async () => {
    const id = h.id('pipeline');
    const result = await h.client.workflow.execute(rlhfPipeline, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, ...h.recipe() }] });

    const calls = h.mocks.calls.filter((c) => c.input.run === id);
    const at = (pred: (c: (typeof calls)[number]) => boolean) => calls.findIndex(pred);
    const first = (name: string, pred: (input: any) => boolean = () => true) => at((c) => c.name === name && pred(c.input));
    const last = (name: string, pred: (input: any) => boolean = () => true) => calls.findLastIndex((c) => c.name === name && pred(c.input));
    const inIter = (t: number) => (i: any) => i.iteration === t;
    // Steps run in dependency order (patches prepare-data-beside-base-model and score-shards-as-generated let
    // independent steps overlap): the run config first; data and the base model (beside each other) before SFT;
    // SFT, the reward model, then per iteration prompts → every shard generated, and each shard scored after its
    // generation → pairs after every score → DPO → the next iteration; the summary last.
    expect(calls[0]?.name).toBe('recordRunConfig');
    expect(Math.max(first('prepareData'), first('initBaseModel'))).toBeLessThan(first('trainSft'));
    expect(first('trainSft')).toBeLessThan(first('trainRewardModel'));
    expect(first('trainRewardModel')).toBeLessThan(first('selectPrompts'));
    for (const t of [1, 2]) {
      expect(first('selectPrompts', inIter(t))).toBeLessThan(first('generateShard', inIter(t)));
      for (const shard of [0, 1]) {
        const ofShard = (i: any) => i.iteration === t && i.shard === shard;
        expect(first('generateShard', ofShard)).toBeGreaterThanOrEqual(0);
        expect(first('generateShard', ofShard)).toBeLessThan(first('scoreShard', ofShard));
      }
      expect(last('scoreShard', inIter(t))).toBeLessThan(first('buildPairs', inIter(t)));
      expect(first('buildPairs', inIter(t))).toBeLessThan(first('trainDpo', inIter(t)));
    }
    expect(first('trainDpo', inIter(1))).toBeLessThan(first('selectPrompts', inIter(2)));
    expect(last('trainDpo')).toBeLessThan(first('writeRunSummary'));
    expect(calls.filter((c) => c.name !== 'evaluateModel').at(-1)?.name).toBe('writeRunSummary');
    // Each evaluation starts after its model exists and before the summary.
    const evalAt = (stage: 'sft' | number) => at((c) => c.name === 'evaluateModel' && c.input.stage === stage);
    expect(calls.filter((c) => c.name === 'evaluateModel').length).toBe(3);
    expect(evalAt('sft')).toBeGreaterThan(at((c) => c.name === 'trainRewardModel'));
    for (const t of [1, 2]) expect(evalAt(t)).toBeGreaterThan(at((c) => c.name === 'trainDpo' && c.input.iteration === t));
    expect(at((c) => c.name === 'writeRunSummary')).toBeGreaterThan(Math.max(evalAt('sft'), evalAt(1), evalAt(2)));
    // 8 prompts per iteration in shards of 4 → 2 generation and 2 scoring shards per iteration
    expect(h.mocks.count('generateShard', (i) => i.run === id)).toBe(4);
    expect(h.mocks.count('scoreShard', (i) => i.run === id)).toBe(4);

    // iteration t trains from π_{t−1} against the SFT reference
    const dpo = h.mocks.calls.filter((c) => c.name === 'trainDpo' && c.input.run === id).map((c) => c.input);
    expect(dpo.map((d) => [d.iteration, d.policy, d.reference])).toEqual([
      [1, `runs/${id}/sft/checkpoint`, `runs/${id}/sft/checkpoint`],
      [2, `runs/${id}/iter-0001/policy`, `runs/${id}/sft/checkpoint`],
    ]);
    expect(h.mocks.calls.find((c) => c.name === 'trainRewardModel' && c.input.run === id)?.input.initFrom).toBe(`runs/${id}/sft/checkpoint`);

    expect(result.skipped).toEqual([]);
    expect(result.iterations).toBe(2);
    expect(result.stoppedEarly).toBe(false);
    expect(result.metrics.map((m) => m.iteration)).toEqual([0, 1, 2]);
    expect(result.models).toMatchObject({ sft: `runs/${id}/sft/checkpoint`, reward: `runs/${id}/reward-model/checkpoint`, final: `runs/${id}/iter-0002/policy` });
    expect(result.models.best).toBe(`runs/${id}/iter-0002/policy`);

    for (const child of ['sft', 'reward-model', 'online', 'iter-0001', 'iter-0002']) {
      const d = await h.client.workflow.getHandle(`${id}/${child}`).describe();
      expect(d.status.name, child).toBe('COMPLETED');
    }

    const handle = h.client.workflow.getHandle(id);
    const desc = await handle.describe();
    const sa = desc.typedSearchAttributes;
    expect(sa.get(RlhfRun)).toBe(id);
    expect(sa.get(RlhfStage)).toBe('completed');
    expect(sa.get(RlhfIteration)).toBe(2);
    expect(sa.get(RlhfBeta)).toBeCloseTo(0.1);
    expect(sa.get(RlhfLearningRate)).toBeCloseTo(RECIPE_DEFAULTS.online.learningRate);
    expect(sa.get(RlhfBestReward)).toBeCloseTo(0.2);
    // children carry the run too, so a run's workflows are one filter away
    expect((await h.client.workflow.getHandle(`${id}/iter-0001`).describe()).typedSearchAttributes.get(RlhfRun)).toBe(id);
    // the attributes set while a workflow starts (install, first status, first stage: three upserts before patch
    // search-attributes-coalesced) go out as one upsert; a later step of the same workflow task (after an await)
    // may send one more; the SDK adds its own TemporalChangeVersion upserts for patches
    for (const wid of [id, `${id}/sft`, `${id}/reward-model`, `${id}/online`, `${id}/iter-0001`]) {
      const events = (await h.client.workflow.getHandle(wid).fetchHistory()).events ?? [];
      const secondTask = events.findIndex((e, i) => i > 0 && e.workflowTaskCompletedEventAttributes && events.slice(0, i).some((x) => x.workflowTaskCompletedEventAttributes));
      const ours = events
        .slice(0, secondTask < 0 ? events.length : secondTask)
        .map((e) => Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}).filter((k) => k.startsWith('Rlhf')))
        .filter((keys) => keys.length > 0);
      expect(ours[0], wid).toEqual(expect.arrayContaining(['RlhfRun', 'RlhfStage']));
      expect(ours.length, wid).toBeLessThanOrEqual(2);
      // A new execution records one patch marker, the epoch's (workflows/patches.ts), not one per patch it takes.
      const patches = events
        .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
        .map((e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data ?? new Uint8Array()).toString('utf8')).id as string);
      expect(patches, wid).toEqual([EPOCH_ID]);
    }

    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string; definition?: { queryDefinitions?: Array<{ name: string; description?: string }> } };
    expect(metadata.currentDetails).toContain('| iter | RM reward | win vs SFT');
    expect(metadata.currentDetails).toMatch(/\| 2 \| 0\.200 \| 0\.70 \|/);
    const queries = metadata.definition?.queryDefinitions ?? [];
    expect(queries.find((q) => q.name === 'status')?.description).toMatch(/stage, iteration/);

    const status = await handle.query(statusQuery);
    expect(status).toMatchObject({ stage: 'completed', iteration: 2, step: 'done', shards: null, paused: false, bestReward: 0.2 });
    expect((await handle.query(metricsQuery)).map((m) => m.iteration)).toEqual([0, 1, 2]);

    // RLHF_RECORD_HISTORIES=1 refreshes the replay fixtures (test/workflows/replay.test.ts) from this run;
    // RLHF_RECORD_HISTORIES=<prefix> adds a set `<prefix>-<type>.json` (histories of newer code, its patches taken).
    const record = process.env.RLHF_RECORD_HISTORIES;
    if (record) {
      for (const [name, wid] of [['rlhfPipeline', id], ['supervisedFineTune', `${id}/sft`], ['trainRewardModel', `${id}/reward-model`], ['onlineDpo', `${id}/online`], ['dpoIteration', `${id}/iter-0001`]]) {
        await saveHistory(record === '1' ? (name as string) : `${record}-${name as string}`, wid as string, await h.client.workflow.getHandle(wid as string).fetchHistory());
      }
    }
  });

  it('skips base model, SFT and reward model when the input gives s3:// models', async () => {
    const id = h.id('skip');
    const result = await h.client.workflow.execute(rlhfPipeline, {
      taskQueue: h.queues.control,
      workflowId: id,
      args: [{ run: id, ...h.recipe({ online: { iterations: 1 }, models: { sft: 's3://models/llama/sft', reward: 's3://models/llama/rm' } }) }],
    });
    const names = h.mocks.calls.filter((c) => c.input.run === id).map((c) => c.name);
    expect(names).not.toContain('initBaseModel');
    expect(names).not.toContain('trainSft');
    expect(names).not.toContain('trainRewardModel');
    expect(result.skipped).toEqual(['base-model', 'sft', 'reward-model']);
    const dpo = h.mocks.calls.find((c) => c.name === 'trainDpo' && c.input.run === id)?.input;
    expect(dpo).toMatchObject({ policy: 's3://models/llama/sft', reference: 's3://models/llama/sft' });
    expect(h.mocks.calls.find((c) => c.name === 'generateShard' && c.input.run === id)?.input.policy).toBe('s3://models/llama/sft');
    expect(h.mocks.calls.find((c) => c.name === 'scoreShard' && c.input.run === id)?.input.rewardModel).toBe('s3://models/llama/rm');
  });

  it('skips only SFT-side stages when only models.sft is given; reference "previous" uses π_{t−1}', async () => {
    const id = h.id('skip-sft');
    await h.client.workflow.execute(rlhfPipeline, {
      taskQueue: h.queues.control,
      workflowId: id,
      args: [{ run: id, ...h.recipe({ online: { reference: 'previous' }, models: { sft: 's3://models/llama/sft' } }) }],
    });
    const names = h.mocks.calls.filter((c) => c.input.run === id).map((c) => c.name);
    expect(names).not.toContain('trainSft');
    expect(names).toContain('trainRewardModel');
    const dpo = h.mocks.calls.filter((c) => c.name === 'trainDpo' && c.input.run === id).map((c) => c.input.reference);
    expect(dpo).toEqual(['s3://models/llama/sft', `runs/${id}/iter-0001/policy`]);
  });

  it('fails at once with a non-retryable error naming the bad fields', async () => {
    const id = h.id('invalid');
    const err = await h.client.workflow
      .execute(rlhfPipeline, { taskQueue: h.queues.control, workflowId: id, args: [{ ...h.recipe({ online: { beta: -1, k: 1 } }) }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidRecipeOptions');
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    expect(cause?.message).toMatch(/online\.beta must be > 0 \(got -1\)/);
    expect(cause?.message).toMatch(/online\.k must be an integer in \[2, 1024\] \(got 1\)/);
    expect(h.mocks.calls.filter((c) => c.input.run === id)).toEqual([]);
  });

  it('a non-retryable activity failure fails the run once, names the step, and sets RlhfStage = failed', async () => {
    const id = h.id('fail');
    h.mocks.failOn('buildPairs:1', ApplicationFailure.nonRetryable('shard 0 row 3: 3 responses but 4 rewards', 'InvalidData'));
    const handle = await h.client.workflow.start(rlhfPipeline, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, ...h.recipe({ models }) }] });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(rootCauseMessage(err)).toMatch(/3 responses but 4 rewards/);
    expect(h.mocks.count('buildPairs', (i) => i.run === id)).toBe(1); // not retried
    expect((await handle.describe()).typedSearchAttributes.get(RlhfStage)).toBe('failed');
    expect((await h.client.workflow.getHandle(`${id}/iter-0001`).describe()).status.name).toBe('FAILED');
  });

  it('data preparation and the base model run beside each other; a failure of either fails the run with its message', async () => {
    const rootCause = async (handle: { result(): Promise<unknown> }): Promise<string | undefined> => {
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      return rootCauseMessage(err);
    };
    // the base model fails while the data is still being prepared: the run fails once the data is there
    const a = h.id('base-fails');
    const data = h.mocks.gate('prepareData');
    h.mocks.failOn('initBaseModel', ApplicationFailure.nonRetryable('demo model config: hidden_size must be even', 'InvalidOptions'));
    const first = await h.client.workflow.start(rlhfPipeline, { taskQueue: h.queues.control, workflowId: a, args: [{ run: a, ...h.recipe() }] });
    await data.started;
    await eventually(async () => h.mocks.count('initBaseModel', (i) => i.run === a) === 1, 10_000, 'base model started beside data preparation');
    data.release();
    expect(await rootCause(first)).toMatch(/hidden_size must be even/);
    expect((await first.describe()).typedSearchAttributes.get(RlhfStage)).toBe('failed');
    expect(h.mocks.count('trainSft', (i) => i.run === a)).toBe(0);
    // data preparation fails while the base model is still being initialised: the run fails at once
    const b = h.id('data-fails');
    const base = h.mocks.gate('initBaseModel');
    h.mocks.failOn('prepareData', ApplicationFailure.nonRetryable('data.sftFile: row 7 is not valid JSON', 'InvalidData'));
    const second = await h.client.workflow.start(rlhfPipeline, { taskQueue: h.queues.control, workflowId: b, args: [{ run: b, ...h.recipe() }] });
    await base.started;
    expect(await rootCause(second)).toMatch(/row 7 is not valid JSON/);
    base.release();
    expect(h.mocks.count('prepareData', (i) => i.run === b)).toBe(1); // not retried
  });

  it('setNextIterationOptions: rejects bad values, forwards accepted ones to the following iterations', async () => {
    const id = h.id('update');
    const gate = h.mocks.gate('trainDpo:1');
    const handle = await h.client.workflow.start(rlhfPipeline, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, ...h.recipe() }] });
    await gate.started;

    await expect(handle.executeUpdate(setNextIterationOptionsUpdate, { args: [{ beta: 0 }] })).rejects.toThrow(WorkflowUpdateFailedError);
    const rejected = await handle.executeUpdate(setNextIterationOptionsUpdate, { args: [{ k: 3 }] }).catch((e: WorkflowUpdateFailedError) => e);
    expect((rejected as WorkflowUpdateFailedError).cause?.message).toMatch(/k \(3\) must be a multiple of the number of temperatures \(2\)/);
    await expect(handle.executeUpdate(setNextIterationOptionsUpdate, { args: [{ epochs: 9 } as never] })).rejects.toThrow(WorkflowUpdateFailedError);

    const ok = await handle.executeUpdate(setNextIterationOptionsUpdate, { args: [{ beta: 0.05, k: 6, temperatures: [1, 0.8, 0.6] }] });
    expect(ok.appliesFromIteration).toBe(2);
    gate.release();
    const result = await handle.result();

    const dpo = h.mocks.calls.filter((c) => c.name === 'trainDpo' && c.input.run === id).map((c) => c.input.hyper.beta);
    expect(dpo).toEqual([0.1, 0.05]);
    const gen = h.mocks.calls.filter((c) => c.name === 'generateShard' && c.input.run === id).map((c) => [c.input.iteration, c.input.k, c.input.temperatures.length]);
    expect(gen).toEqual([
      [1, 4, 2],
      [1, 4, 2],
      [2, 6, 3],
      [2, 6, 3],
    ]);
    expect(result.metrics.map((m) => m.beta)).toEqual([null, 0.1, 0.05]);
    await eventually(async () => (await handle.describe()).typedSearchAttributes.get(RlhfBeta) === 0.05, 5000, 'RlhfBeta = 0.05');
  });

  it('changes and a stop request sent before the loop starts reach it (passed in the online child input)', async () => {
    const id = h.id('early');
    const gate = h.mocks.gate('trainSft');
    const handle = await h.client.workflow.start(rlhfPipeline, { taskQueue: h.queues.control, workflowId: id, args: [{ run: id, ...h.recipe({ online: { iterations: 3 } }) }] });
    await gate.started;
    const ok = await handle.executeUpdate(setNextIterationOptionsUpdate, { args: [{ learningRate: 2e-4 }] });
    expect(ok.appliesFromIteration).toBe(1);
    expect((await handle.query(statusQuery)).pendingOptions).toEqual({ learningRate: 2e-4 });
    await handle.signal(stopAfterIterationSignal, 2);
    gate.release();
    const result = await handle.result();
    expect(result.iterations).toBe(2);
    expect(result.stoppedEarly).toBe(true);
    const lrs = h.mocks.calls.filter((c) => c.name === 'trainDpo' && c.input.run === id).map((c) => c.input.hyper.learningRate);
    expect(lrs).toEqual([2e-4, 2e-4]);
  });
});
