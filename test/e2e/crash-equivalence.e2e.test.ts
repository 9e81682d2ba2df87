// Crash equivalence (issue #4): a pipeline whose inference worker is SIGKILLed during generation and whose
// train worker is SIGKILLed during DPO training (both restarted) ends with the same bytes as the same
// pipeline run uninterrupted: the final policy's model.safetensors, every committed manifest entry, and the
// rows of every generations / scores / pairs dataset (none missing, none duplicated). Work redone is at most
// one checkpoint interval: for training, the step reached at the kill vs the step the retry resumed from;
// for generation, the prompts generated before the kill that the retry generated again vs the chunk size.
// Real worker processes (workers/main.ts --queues <role>, chaos/worker-pool.ts) on the test services.
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainedModel } from '../../activities/types';
import { GENERATION_CHUNK } from '../../activities/generate-shard';
import { latestCheckpoint } from '../../activities/training';
import { Deps } from '../../activities/support';
import { collectArtifacts, compareArtifacts, type RunArtifacts } from '../../chaos/artifacts';
import { chaosRecipe } from '../../chaos/harness';
import { workerPool, type WorkerPool } from '../../chaos/worker-pool';
import { writeWorkflowBundle } from '../../deploy/docker/bundle-workflows';
import { REPO_ROOT } from '../../scripts/stack';
import { FILE, iterationName, layout, runPrefix } from '../../shared/layout';
import type { RecipeInput } from '../../shared/recipe';
import type { ArtifactStore } from '../../shared/store';
import { getTestClient, getTestConfig, getTestEnv, getTestStore, uniqueId } from '../helpers/services';

const ITERATIONS = 2;
const CHECKPOINT_EVERY = 4;
const base = chaosRecipe(4242, ITERATIONS);
/** chaosRecipe with enough DPO steps (≥ 3 checkpoint intervals) to kill the trainer between checkpoints. */
const RECIPE: RecipeInput = {
  ...base,
  // Longer generations (and 8-prompt shards) give the kill a window during generation.
  online: { ...base.online, promptsPerIteration: 16, maxNewTokens: 24, epochs: 24, batchSize: 2 },
  execution: {
    ...base.execution,
    shardSize: 8,
    checkpointEverySteps: CHECKPOINT_EVERY,
    searchAttributes: false,
    // A killed worker's attempt is noticed by its heartbeat timeout: keep it short.
    timeouts: { ...base.execution?.timeouts, inferenceHeartbeat: '3s', trainHeartbeat: '3s' },
  },
};

let scratch: string;
let client: Client;
let store: ArtifactStore;
let pool: WorkerPool;
const queues = { control: uniqueId('ce-control'), inference: uniqueId('ce-inference'), train: uniqueId('ce-train') };

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'durable-rlhf-crash-eq-'));
  await mkdir(join(scratch, 'logs'));
  // Workers (and their restarts) run a frozen copy of the code: others keep editing the checkout, and a worker
  // restarted on newer code would compute other bytes than the uninterrupted run did.
  const code = join(scratch, 'code');
  for (const dir of ['activities', 'engine', 'shared', 'tasks', 'workers', 'workflows', 'report']) {
    await cp(join(REPO_ROOT, dir), join(code, dir), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  }
  for (const file of ['package.json', 'tsconfig.json']) await cp(join(REPO_ROOT, file), join(code, file));
  await symlink(join(REPO_ROOT, 'node_modules'), join(code, 'node_modules'), 'dir');
  const bundlePath = join(scratch, 'workflow-bundle.js');
  await writeWorkflowBundle(bundlePath, join(code, 'workflows', 'index.ts'));
  client = await getTestClient();
  store = getTestStore();
  await store.ensureBucket();
  pool = workerPool(
    getTestEnv({
      RLHF_CONTROL_QUEUE: queues.control,
      RLHF_INFERENCE_QUEUE: queues.inference,
      RLHF_TRAIN_QUEUE: queues.train,
      RLHF_WORKFLOW_BUNDLE: bundlePath,
      RLHF_SHUTDOWN_GRACE: '1s',
      RLHF_SCRATCH_DIR: join(scratch, 'work'),
      RLHF_LOG_LEVEL: 'WARN',
    }),
    join(scratch, 'logs'),
    join(code, 'workers', 'main.ts'),
  );
  for (const role of ['control', 'inference', 'train'] as const) pool.start(role);
}, 180_000);

afterAll(async () => {
  await pool?.stopAll();
  await client?.connection.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Pending {
  workflowId: string;
  activityId: string;
  attempt: number;
  /** Running on a worker (not waiting in the queue). */
  started: boolean;
  details: Record<string, unknown> | undefined;
}

/** The pending activity of `type` in the run's iteration workflows (with its last heartbeat details), if any. */
async function pendingActivity(pipelineId: string, type: string, activityId?: string): Promise<Pending | undefined> {
  for (let t = 1; t <= ITERATIONS; t++) {
    const workflowId = `${pipelineId}/${iterationName(t)}`;
    let description;
    try {
      description = await client.workflow.getHandle(workflowId).describe();
    } catch {
      continue; // not started yet
    }
    if (description.status.name !== 'RUNNING') continue;
    for (const a of description.raw.pendingActivities ?? []) {
      if (a.activityType?.name !== type || (activityId !== undefined && a.activityId !== activityId)) continue;
      const payload = a.heartbeatDetails?.payloads?.[0];
      const details = payload ? (client.options.loadedDataConverter.payloadConverter.fromPayload(payload) as Record<string, unknown>) : undefined;
      return { workflowId, activityId: a.activityId ?? '', attempt: a.attempt ?? 1, started: a.lastStartedTime != null && Number(a.state) === 2 /* PENDING_ACTIVITY_STATE_STARTED */, details };
    }
  }
  return undefined;
}

async function waitFor<T>(what: string, timeoutMs: number, done: Promise<unknown>, probe: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (finished) throw new Error(`the pipeline finished before ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * SIGKILLs the `role` worker while a started `type` attempt that `ready` accepts runs, then starts the worker
 * again. A kill can land just after the attempt finished (its completion already reached the server): then
 * the activity is no longer pending, it is counted in `missed`, and the next `type` activity (of this
 * iteration or the next) is the target. `atKill` runs after the kill, before the restart.
 */
async function killWhileRunning<T extends Pending, K>(
  role: 'inference' | 'train',
  type: string,
  what: string,
  pipelineId: string,
  done: Promise<unknown>,
  ready: (p: Pending) => Promise<T | undefined>,
  everyMs: number,
  atKill: (target: T) => Promise<K>,
): Promise<{ target: T; before: Pending | undefined; after: Pending; missed: string[]; atKill: K }> {
  const missed: string[] = [];
  const idOf = (p: Pending): string => `${p.workflowId}#${p.activityId}`;
  for (;;) {
    const target = await waitFor(what, 240_000, done, async () => {
      const p = await pendingActivity(pipelineId, type);
      return p?.started && !missed.includes(idOf(p)) ? ready(p) : undefined;
    }, everyMs).catch((err: Error) => {
      throw new Error(`${err.message}; kills after completion: ${missed.join(', ') || 'none'}`);
    });
    // The freshest progress before the kill (heartbeats are throttled; poll once more without waiting).
    const last = await pendingActivity(pipelineId, type, target.activityId);
    expect(await pool.kill(role)).toBe(true);
    // A completion sent just before the kill reaches the server within a moment.
    await sleep(500);
    const extra = await atKill(target);
    const after = await pendingActivity(pipelineId, type, target.activityId);
    pool.start(role);
    if (after && after.workflowId === target.workflowId) {
      return { target, before: last?.workflowId === target.workflowId ? last : undefined, after, missed, atKill: extra };
    }
    missed.push(idOf(target));
  }
}

async function runPipeline(workflowId: string, run: string): Promise<{ result: Promise<unknown>; runId: string }> {
  await store.deletePrefix(runPrefix(run));
  const handle = await client.workflow.start('rlhfPipeline', {
    taskQueue: queues.control,
    workflowId,
    args: [{ run, ...RECIPE, execution: { ...RECIPE.execution, taskQueues: queues } }],
  });
  return { result: handle.result(), runId: handle.firstExecutionRunId };
}

/** Attempts of each activity type that finished in a workflow's history (ActivityTaskStarted records the last). */
async function attempts(workflowId: string, type: string): Promise<number[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const types = new Map<string, string>();
  const out: number[] = [];
  for (const ev of history.events ?? []) {
    const sched = ev.activityTaskScheduledEventAttributes;
    if (sched) types.set(String(ev.eventId), sched.activityType?.name ?? '');
    const started = ev.activityTaskStartedEventAttributes;
    if (started && types.get(String(started.scheduledEventId)) === type) out.push(started.attempt ?? 1);
  }
  return out;
}

/** Rows of every generations / scores / pairs JSONL entry, keyed by relative path, sorted (as JSON lines). */
function datasetRows(a: RunArtifacts): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, v] of a.jsonl) if (/\/(generations|scores|pairs)\//.test(key)) out.set(key, v.rows);
  return out;
}

async function datasetLines(run: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let t = 1; t <= ITERATIONS; t++) {
    for (const step of ['generations', 'scores', 'pairs'] as const) {
      const root = layout[step](run, t);
      for (const o of await store.list(root)) {
        if (!o.key.endsWith('.jsonl') || o.key.includes('/partial/')) continue;
        const lines = (await store.getBytes(o.key)).toString('utf8').split('\n').filter((l) => l.trim() !== '');
        out.set(o.key.slice(runPrefix(run).length + 1), lines);
      }
    }
  }
  return out;
}

describe('crash equivalence (worker processes SIGKILLed mid-generation and mid-DPO)', () => {
  it('ends byte-identical to the uninterrupted run, redoing at most one checkpoint interval', async () => {
    const run = uniqueId('crash-eq');
    const workflowId = run; // the same id and run name for both runs (the run's prefix is deleted in between)
    const deps = new Deps({ store, config: getTestConfig() });

    // A: uninterrupted.
    const t0 = Date.now();
    const a = await runPipeline(workflowId, run);
    await a.result;
    const secondsA = (Date.now() - t0) / 1000;
    const artifactsA = await collectArtifacts(store, run);
    const linesA = await datasetLines(run);
    const finalA = (await store.requireManifest(layout.model(run, ITERATIONS))).entries.find((e) => e.key === 'model.safetensors')?.sha256;
    expect(finalA).toBeDefined();
    const stepsA: number[] = [];
    for (let t = 1; t <= ITERATIONS; t++) stepsA.push(((await store.requireManifest(layout.model(run, t))).meta.result as TrainedModel).steps);
    console.log(JSON.stringify({ uninterrupted: { seconds: secondsA, dpoSteps: stepsA } }));

    // B: the same pipeline; the inference worker dies during generation, the train worker during DPO.
    const t1 = Date.now();
    const b = await runPipeline(workflowId, run);

    // --- generation: kill once a generateShard attempt runs on the inference worker (polled tightly: a shard
    // of the tiny model takes well under a second).
    const g = await killWhileRunning('inference', 'generateShard', 'a generateShard in progress', workflowId, b.result, async (p) => p, 10, async () => undefined);
    const gen = g.target;
    const missedGen = g.missed;
    const genDoneAtKill = Math.max(Number(gen.details?.done ?? 0), Number(g.before?.details?.done ?? 0));
    // What the retry resumes from: the heartbeat details the server keeps for the next attempt.
    const resumeChunks = (g.after.details?.chunks as unknown[] | undefined) ?? [];
    const genResumedFrom = Array.isArray(g.after.details?.chunks) ? Number(g.after.details?.done ?? 0) : 0;

    // --- training: kill during trainDpo once one of its checkpoints is committed in S3 (its heartbeats are
    // throttled, so the committed checkpoint, not the last heartbeat, says training is under way).
    const seenTrain: unknown[] = [];
    const k = await killWhileRunning(
      'train',
      'trainDpo',
      'a trainDpo past a committed checkpoint',
      workflowId,
      b.result,
      async (p) => {
        seenTrain.push(p.details);
        const t = Number(/iter-(\d+)$/.exec(p.workflowId)?.[1]);
        return (await latestCheckpoint(deps, run, t)) !== null ? { ...p, iteration: t } : undefined;
      },
      100,
      (target) => latestCheckpoint(deps, run, target.iteration),
    ).catch((err: Error) => {
      throw new Error(`${err.message}; trainDpo heartbeats seen: ${JSON.stringify(seenTrain.slice(-5))}`);
    });
    const train = k.target;
    const missedTrain = k.missed;
    const committedAtKill = k.atKill;
    const iteration = train.iteration;
    // The step reached: the newest of the last heartbeat the server holds and the committed checkpoint
    // (heartbeats are throttled, so this is a lower bound of the true step at the kill).
    const stepAtKill = Math.max(Number(train.details?.step ?? 0), Number(k.after.details?.step ?? 0), committedAtKill?.step ?? 0);

    await b.result;
    const secondsB = (Date.now() - t1) / 1000;
    expect(pool.unexpectedExits).toEqual([]);

    const artifactsB = await collectArtifacts(store, run);
    const cmp = compareArtifacts(artifactsA, artifactsB);
    const finalB = (await store.requireManifest(layout.model(run, ITERATIONS))).entries.find((e) => e.key === 'model.safetensors')?.sha256;
    // The kills hit running attempts: each activity was retried.
    const genAttempts = await attempts(gen.workflowId, 'generateShard');
    const trainAttempts = await attempts(train.workflowId, 'trainDpo');

    // Work redone. Training: the retry resumed from the latest checkpoint committed before the kill.
    const trained = (await store.requireManifest(layout.model(run, iteration))).meta.result as TrainedModel;
    const trainRedone = stepAtKill - trained.resumedFromStep;
    // Generation: prompts generated before the kill that the retry generated again.
    const promptsRegenerated = Math.max(0, genDoneAtKill - genResumedFrom);
    console.log(
      JSON.stringify({
        crashEquivalence: {
          uninterruptedSeconds: Math.round(secondsA * 10) / 10,
          crashedSeconds: Math.round(secondsB * 10) / 10,
          generation: { activity: gen.workflowId, killsAfterCompletion: missedGen, attempts: genAttempts, attemptKilled: gen.attempt, promptsDoneAtKill: genDoneAtKill, resumedFromPrompt: genResumedFrom, resumedChunks: resumeChunks.length, promptsRegenerated, chunkSize: GENERATION_CHUNK },
          training: {
            iteration,
            killsAfterCompletion: missedTrain,
            attempts: trainAttempts,
            stepAtKill,
            committedCheckpointAtKill: committedAtKill?.step ?? null,
            resumedFromStep: trained.resumedFromStep,
            stepsRedone: trainRedone,
            checkpointEverySteps: CHECKPOINT_EVERY,
            totalSteps: trained.steps,
          },
          finalPolicySha256: { uninterrupted: finalA, crashed: finalB },
          differences: cmp.differences,
          identicalEntries: [...artifactsB.manifests.values()].reduce((n, m) => n + m.size, 0),
        },
      }),
    );
    expect(Math.max(...genAttempts), `generateShard attempts ${genAttempts}`).toBeGreaterThanOrEqual(2);
    expect(Math.max(...trainAttempts), `trainDpo attempts ${trainAttempts}`).toBeGreaterThanOrEqual(2);
    // Identical artifacts.
    expect(cmp.differences).toEqual([]);
    expect(artifactsB.corrupt).toEqual([]);
    expect(cmp.missingRows).toBe(0);
    expect(cmp.duplicateRows).toBe(0);
    expect(finalB).toBe(finalA);
    expect(datasetRows(artifactsB)).toEqual(datasetRows(artifactsA));
    expect(datasetRows(artifactsA).size).toBeGreaterThanOrEqual(ITERATIONS * 3); // generations, scores (per shard) and pairs
    const linesB = await datasetLines(run);
    expect([...linesB.keys()].sort()).toEqual([...linesA.keys()].sort());
    for (const [key, rows] of linesA) {
      const other = linesB.get(key) ?? [];
      expect(other, key).toEqual(rows);
      expect(new Set(other).size, `${key}: duplicate rows`).toBe(other.length);
    }

    expect(trained.resumedFromStep).toBe(committedAtKill?.step);
    expect(trained.resumedFromStep).toBeGreaterThan(0);
    expect(trainRedone).toBeLessThanOrEqual(CHECKPOINT_EVERY);
    expect(promptsRegenerated).toBeLessThanOrEqual(GENERATION_CHUNK);
    expect(linesB.get(`${iterationName(iteration)}/pairs/${FILE.pairs}`)?.length ?? 0).toBeGreaterThan(0);
  }, 420_000);
});
