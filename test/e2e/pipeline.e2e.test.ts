// End to end: rlhfPipeline with the real activities, the real engine (a tiny byte-level Llama on the
// sort-digits demo task) and S3 (versitygw) — 2 iterations complete, and S3 holds, per iteration, prompts,
// generations, scores, pairs, training checkpoints, the iterate and its evaluation, each committed. The worker
// runs as npm run demo runs its own (SOLE_WORKER_ENV: it holds one inference task more than it runs).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { SOLE_WORKER_ENV } from '../../shared/config';
import { FILE, layout, shardName, shardPrefix } from '../../shared/layout';
import { metricsQuery, statusQuery } from '../../shared/messages';
import type { RecipeInput } from '../../shared/recipe';
import { createWorkers, type RlhfWorkers } from '../../workers/main';
import { rlhfPipeline } from '../../workflows';
import { getTestClient, getTestConfig, getTestStore, uniqueId } from '../helpers/services';
import { bundleWorkflows, saveHistory } from '../workflows/harness';

const TINY: RecipeInput = {
  data: { sftExamples: 64, preferencePairs: 64, evalPrompts: 8 },
  models: { demo: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 } },
  sft: { epochs: 1, batchSize: 16 },
  reward: { epochs: 1, batchSize: 16 },
  online: { iterations: 2, promptsPerIteration: 8, k: 4, maxNewTokens: 8, epochs: 2, batchSize: 4 },
  evaluation: { prompts: 8, maxNewTokens: 8 },
  execution: { shardSize: 4, inferenceWindow: 2, checkpointEverySteps: 2, retry: { maximumAttempts: 2 } },
};

let bundle: WorkflowBundle;
let workers: RlhfWorkers;
let running: Promise<void>;
let scratchDir: string;
/** Per inference task (workflow id / activity id): when it entered the activity and when it got its engine turn. */
const inference = new Map<string, { entered: number; turn?: number }>();
const taskKey = (): string => {
  const info = Context.current().info;
  return `${info.workflowExecution?.workflowId ?? '?'}/${info.activityId}`;
};
const queues = { control: uniqueId('e2e-control'), inference: uniqueId('e2e-inference'), train: uniqueId('e2e-train') };

beforeAll(async () => {
  bundle = await bundleWorkflows();
  scratchDir = await mkdtemp(join(tmpdir(), 'durable-rlhf-e2e-'));
  const config = getTestConfig({ ...SOLE_WORKER_ENV, RLHF_CONTROL_QUEUE: queues.control, RLHF_INFERENCE_QUEUE: queues.inference, RLHF_TRAIN_QUEUE: queues.train });
  expect(config.worker.inferencePrefetch).toBe(1);
  const store = getTestStore();
  await store.ensureBucket();
  const activities = createActivities({ store, config, scratchDir }, { onInferenceTurn: (at) => Object.assign(inference.get(taskKey()) ?? {}, { turn: at }) });
  const inner = activities.inference;
  activities.inference = Object.fromEntries(
    Object.entries(inner).map(([name, fn]) => [
      name,
      (input: never) => {
        inference.set(taskKey(), { entered: Date.now() });
        return (fn as (i: never) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as typeof inner;
  workers = await createWorkers({ config, workflowBundle: bundle, store, activities });
  running = workers.run();
});

afterAll(async () => {
  workers?.shutdown();
  await running?.catch(() => undefined);
  if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
});

describe('rlhfPipeline end to end (real engine, tiny model)', () => {
  it('completes 2 iterations and commits every artifact', async () => {
    const client = await getTestClient();
    const store = getTestStore();
    const run = uniqueId('e2e');
    try {
      const handle = await client.workflow.start(rlhfPipeline, {
        taskQueue: queues.control,
        workflowId: run,
        args: [{ run, ...TINY, execution: { ...TINY.execution, taskQueues: queues } }],
      });
      const result = await handle.result();
      // RLHF_RECORD_HISTORIES=1 refreshes the real-run replay fixtures (test/workflows/replay.test.ts):
      // the histories of this run with the real engine, the pipeline and each of its children, as e2e-<type>;
      // RLHF_RECORD_HISTORIES=<set> records a new set <set>-e2e-<type> (after a patch, beside the older ones).
      const record = process.env.RLHF_RECORD_HISTORIES;
      if (record) {
        const prefix = record === '1' ? 'e2e-' : `${record}-e2e-`;
        const children: [string, string][] = [['rlhfPipeline', run], ['supervisedFineTune', `${run}/sft`], ['trainRewardModel', `${run}/reward-model`], ['onlineDpo', `${run}/online`], ['dpoIteration', `${run}/iter-0001`]];
        for (const [name, wid] of children) await saveHistory(`${prefix}${name}`, wid, await client.workflow.getHandle(wid).fetchHistory());
      }
      expect(result.iterations).toBe(2);
      expect(result.metrics.map((m) => m.iteration)).toEqual([0, 1, 2]);
      for (const m of result.metrics) {
        expect(Number.isFinite(m.meanReward)).toBe(true);
        expect(m.winRateVsSft).toBeGreaterThanOrEqual(0);
        expect(m.winRateVsSft).toBeLessThanOrEqual(1);
        expect(m.gold).not.toBeNull();
      }
      expect(result.metrics[0]?.kl).toBe(0);

      const committed = async (prefix: string) => expect(await store.isCommitted(prefix), prefix).toBe(true);
      await committed(layout.config(run));
      for (const p of [layout.sftData(run), layout.preferenceData(run), layout.promptPool(run), layout.evalPrompts(run), layout.baseModel(run)]) await committed(p);
      await committed(layout.model(run, 'sft'));
      await committed(layout.model(run, 'reward-model'));
      await committed(layout.eval(run, 'sft'));
      for (const t of [1, 2]) {
        const prompts = await store.requireManifest(layout.prompts(run, t));
        expect(prompts.entries.map((e) => e.key)).toEqual([shardName(0), shardName(1)]);
        for (const s of [0, 1]) {
          const gen = await store.readCommittedJsonlAll<{ prompt: string; responses: string[] }>(shardPrefix(layout.generations(run, t), s), shardName(s));
          expect(gen).toHaveLength(4);
          for (const row of gen) expect(row.responses).toHaveLength(4);
          const scored = await store.readCommittedJsonlAll<{ rewards: number[] }>(shardPrefix(layout.scores(run, t), s), shardName(s));
          for (const row of scored) expect(row.rewards).toHaveLength(4);
        }
        const pairs = await store.readCommittedJsonlAll<Record<string, unknown>>(layout.pairs(run, t), FILE.pairs);
        expect(pairs.length).toBe(result.metrics[t]?.pairs);
        expect(pairs.length).toBeGreaterThan(0);
        for (const p of pairs) expect(Object.keys(p).sort()).toEqual(['chosen', 'chosen_reward', 'margin', 'prompt', 'rejected', 'rejected_reward']);
        await committed(layout.model(run, t));
        await committed(layout.trainCheckpoint(run, t, 2));
        const ev = await store.getCommittedJson<{ meanReward: number }>(layout.eval(run, t), FILE.eval);
        expect(ev.meanReward).toBeCloseTo(result.metrics[t]?.meanReward as number);
        // no leftover partial chunks
        expect((await store.list(`${shardPrefix(layout.generations(run, t), 0)}/partial`)).length).toBe(0);
      }
      await committed(layout.summary(run));
      const html = (await store.getCommittedBytes(layout.report(run), 'index.html')).toString('utf8');
      expect(html).toContain(run);
      expect(html).toContain('<svg');
      const status = await handle.query(statusQuery);
      expect(status.stage).toBe('completed');
      expect((await handle.query(metricsQuery)).length).toBe(3);

      // A second pipeline on the same run name and options resumes: every step is already committed.
      const again = await client.workflow.execute(rlhfPipeline, {
        taskQueue: queues.control,
        workflowId: `${run}-again`,
        args: [{ run, ...TINY, execution: { ...TINY.execution, taskQueues: queues } }],
      });
      expect(again.metrics).toEqual(result.metrics);

      // The worker held the next inference task while one ran: at least one waited for its engine turn, and every
      // task got one (none ran outside a turn).
      const tasks = [...inference.entries()].filter(([k]) => k.startsWith(`${run}/`)).map(([, v]) => v);
      expect(tasks.length).toBeGreaterThan(0);
      expect(tasks.every((x) => x.turn !== undefined && x.turn >= x.entered)).toBe(true);
      expect(tasks.some((x) => (x.turn ?? 0) - x.entered >= 20)).toBe(true);
    } finally {
      await client.connection.close();
    }
  }, 600_000);
});
