// Activity behaviour against the real S3 test server and the real engine (a tiny model): resume a shard
// from heartbeat details, resume training from the latest committed checkpoint, skip committed outputs,
// fail non-retryably on bad data, honour cancellation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engine as realEngine } from '../engine';
import type { Engine, GenerateOptions, Prompt } from '../engine/api';
import { layout, shardName, shardPrefix } from '../shared/layout';
import { RECIPE_DEFAULTS } from '../shared/recipe';
import type { ArtifactStore } from '../shared/store';
import { getTestConfig, getTestStore, uniqueId } from '../test/helpers/services';
import { createActivities } from './index';
import type { ChunkProgress } from './chunks';
import type { GenerateShardInput, RlhfActivities, TrainSftInput } from './types';

const DEMO = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rope_theta: 10000 };
const ENGINE = { device: 'cpu' as const, threads: 1 };

let store: ArtifactStore;
let scratch: string;
let generated = 0;
let acts: RlhfActivities;

/** The real engine, counting prompts sent to generate(). */
const countingEngine: Engine = {
  ...realEngine,
  loadPolicy: async (dir, opts) => {
    const p = await realEngine.loadPolicy(dir, opts);
    return {
      dir: p.dir,
      maxLength: p.maxLength,
      promptLength: (x: Prompt) => p.promptLength(x),
      logProbs: (items, o) => p.logProbs(items, o),
      release: () => p.release(),
      generate: (prompts: Prompt[], o: GenerateOptions) => {
        generated += prompts.length;
        return p.generate(prompts, o);
      },
    };
  },
};

beforeAll(async () => {
  store = getTestStore();
  await store.ensureBucket();
  scratch = await mkdtemp(join(tmpdir(), 'durable-rlhf-acts-'));
  acts = createActivities({ store, config: getTestConfig(), engine: countingEngine, scratchDir: scratch });
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function exec<I, O>(fn: (i: I) => Promise<O>, input: I, heartbeatDetails?: unknown, onBeat?: (d: any) => void): Promise<O> {
  const env = new MockActivityEnvironment(heartbeatDetails === undefined ? {} : { heartbeatDetails });
  if (onBeat) env.on('heartbeat', onBeat);
  return env.run(fn, input);
}

async function setupRun(): Promise<{ run: string; base: string; prompts: string }> {
  const run = uniqueId('acts');
  const base = await run_(acts.train.initBaseModel, { run, seed: 1, demo: DEMO });
  const data = await run_(acts.control.prepareData, {
    run,
    seed: 1,
    data: { ...RECIPE_DEFAULTS.data, sftExamples: 16, preferencePairs: 16, evalPrompts: 4 },
    poolSize: 20,
    shardSize: 20,
  });
  const sel = await run_(acts.control.selectPrompts, { run, iteration: 1, promptPool: data.promptPool, count: 20, seed: 1, shardSize: 20 });
  return { run, base, prompts: sel.prefix };
}
const run_ = <I, O>(fn: (i: I) => Promise<O>, input: I) => exec(fn, input);

describe('activities (real engine, test S3)', () => {
  it('generateShard resumes after the chunks named in the last heartbeat and produces the same rows', async () => {
    const { run, base, prompts } = await setupRun();
    const input: GenerateShardInput = {
      run,
      iteration: 1,
      shard: 0,
      start: 0,
      prompts,
      policy: base,
      k: 2,
      temperatures: [1],
      topP: 1,
      maxNewTokens: 6,
      stopStrings: ['\n'],
      maxPromptLength: 32,
      overlongPrompt: 'truncate',
      seed: 7,
      engine: ENGINE,
    };
    const beats: ChunkProgress[] = [];
    generated = 0;
    const full = await exec(acts.inference.generateShard, input, undefined, (d) => d?.chunks && beats.push(d));
    expect(generated).toBe(20);
    expect(full.prompts).toBe(20);
    const prefix = shardPrefix(layout.generations(run, 1), 0);
    const rowsFull = await store.readCommittedJsonlAll(prefix, shardName(0));
    expect((await store.list(`${prefix}/partial`)).length).toBe(0);

    // committed → skipped, no generation
    generated = 0;
    expect(await exec(acts.inference.generateShard, input)).toEqual(full);
    expect(generated).toBe(0);

    // an attempt that died after 2 chunks (16 prompts): rewrite those chunks, uncommit, retry with the heartbeat
    const after2 = beats.find((b) => b.done === 16) as ChunkProgress;
    expect(after2.chunks).toHaveLength(2);
    const firstRows = rowsFull.slice(0, 16);
    await store.deletePrefix(prefix);
    await store.writeJsonl(after2.chunks[0]!.key, firstRows.slice(0, 8));
    await store.writeJsonl(after2.chunks[1]!.key, firstRows.slice(8, 16));
    generated = 0;
    const resumed = await exec(acts.inference.generateShard, input, after2);
    expect(generated).toBe(4);
    expect(resumed).toEqual(full);
    expect(await store.readCommittedJsonlAll(prefix, shardName(0))).toEqual(rowsFull);
  });

  it('scoreShard fails non-retryably when a row does not have K responses', async () => {
    const run = uniqueId('acts-k');
    const gen = shardPrefix(layout.generations(run, 1), 0);
    const obj = await store.writeJsonl(`${gen}/${shardName(0)}`, [{ prompt: 'sort 21\n', responses: ['12', '21', '1'] }]);
    await store.commit(gen, [obj]);
    const err = await exec(acts.inference.scoreShard, { run, iteration: 1, shard: 0, start: 0, generations: gen, rewardModel: 'runs/none', k: 4, engine: ENGINE }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).type).toBe('InvalidData');
    expect((err as Error).message).toMatch(/row 1: 3 responses, expected K = 4/);
  });

  it('a missing model fails non-retryably as MissingArtifact', async () => {
    const { run, prompts } = await setupRun();
    const err = await exec(acts.inference.generateShard, {
      run, iteration: 1, shard: 0, start: 0, prompts, policy: `runs/${run}/nope`, k: 2, temperatures: [1], topP: 1, maxNewTokens: 4,
      stopStrings: [], maxPromptLength: 32, overlongPrompt: 'drop', seed: 1, engine: ENGINE,
    }).catch((e: unknown) => e);
    expect((err as ApplicationFailure).type).toBe('MissingArtifact');
    expect((err as Error).message).toMatch(/policy s3:\/\/.*\/nope\/ is not committed/);
  });

  it('trainSft resumes from the latest committed checkpoint and ends where an uninterrupted run ends', async () => {
    const { run, base } = await setupRun();
    const input: TrainSftInput = {
      run,
      baseModel: base,
      data: layout.sftData(run),
      hyper: { ...RECIPE_DEFAULTS.sft, epochs: 1, batchSize: 4 },
      seed: 1,
      checkpoint: { everySteps: 1, everySeconds: 3600 },
      engine: ENGINE,
    };
    const beats: any[] = [];
    const first = await exec(acts.train.trainSft, input, undefined, (d) => beats.push(d));
    expect(first.steps).toBe(4);
    expect(first.resumedFromStep).toBe(0);
    expect(beats.some((b) => b?.phase === 'checkpoint' && b.checkpoint === layout.trainCheckpoint(run, 'sft', 2))).toBe(true);
    expect(await store.isCommitted(layout.trainCheckpoint(run, 'sft', 3))).toBe(true);

    // simulate a crash after step 2: drop the final model and the later checkpoints
    await store.deletePrefix(layout.model(run, 'sft'));
    await store.deletePrefix(layout.trainCheckpoint(run, 'sft', 3));
    const resumeBeats: any[] = [];
    const second = await exec(acts.train.trainSft, input, { step: 2, checkpoint: layout.trainCheckpoint(run, 'sft', 2) }, (d) => resumeBeats.push(d));
    expect(second.resumedFromStep).toBe(2);
    expect(second.steps).toBe(4);
    expect(second.finalLoss).toBe(first.finalLoss);
    expect(resumeBeats[0]).toMatchObject({ phase: 'resume', step: 2 });
    expect(await store.isCommitted(layout.model(run, 'sft'))).toBe(true);
  });

  /** An SFT long enough (50 epochs, batch 1, no checkpoint in reach) to be interrupted mid-training. */
  function startLongSft(env: MockActivityEnvironment, run: string, base: Awaited<ReturnType<typeof setupRun>>['base']) {
    return env.run(acts.train.trainSft, {
      run,
      baseModel: base,
      data: layout.sftData(run),
      hyper: { ...RECIPE_DEFAULTS.sft, epochs: 500, batchSize: 1 },
      seed: 1,
      checkpoint: { everySteps: 1000, everySeconds: 3600 },
      engine: ENGINE,
    });
  }

  it('training honours cancellation (CancelledFailure), committing nothing', async () => {
    const { run, base } = await setupRun();
    const env = new MockActivityEnvironment();
    // Cancelled once training is under way (its first step heartbeat), however fast the steps are.
    env.once('heartbeat', () => env.cancel());
    const pending = startLongSft(env, run, base);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(await store.isCommitted(layout.model(run, 'sft'))).toBe(false);
  });

  it('recordRunConfig binds a run name to what it computes; execution settings may change on resume', async () => {
    const run = uniqueId('acts-config');
    const options = structuredClone(RECIPE_DEFAULTS);
    await exec(acts.control.recordRunConfig, { run, workflowId: run, options });
    const moved = { ...options, device: 'cuda' as const, execution: { ...options.execution, shardSize: 7, taskQueues: { control: 'a', inference: 'b', train: 'c' } } };
    expect(await exec(acts.control.recordRunConfig, { run, workflowId: `${run}-resumed`, options: moved })).toBe(layout.config(run));
    const err = await exec(acts.control.recordRunConfig, { run, workflowId: run, options: { ...options, online: { ...options.online, beta: 0.5 } } }).catch((e: unknown) => e);
    expect((err as ApplicationFailure).type).toBe('InvalidRecipeOptions');
    expect((err as Error).message).toMatch(/already exists with other options/);
  });

  it('a worker shutdown fails the attempt retryably (another worker resumes), unlike a requested cancellation', async () => {
    const { run, base } = await setupRun();
    const env = new MockActivityEnvironment();
    env.once('heartbeat', () => env.cancel('WORKER_SHUTDOWN'));
    const pending = startLongSft(env, run, base);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('ActivityInterrupted');
    expect((err as ApplicationFailure).nonRetryable).toBe(false);
  });
});
