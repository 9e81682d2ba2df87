// A crashed train worker: the DPO step of iteration 1 is running on one train worker, which shuts down
// (in-flight activity interrupted) after a checkpoint was committed; a new train worker picks up the retry,
// resumes from runs/<run>/iter-0001/train/step-XXXXXX/ and the run completes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import type { TrainedModel } from '../../activities/types';
import { layout } from '../../shared/layout';
import type { RecipeInput } from '../../shared/recipe';
import { createWorkers, type RlhfWorkers } from '../../workers/main';
import { rlhfPipeline } from '../../workflows';
import { getTestClient, getTestConfig, getTestStore, uniqueId } from '../helpers/services';
import { eventually, bundleWorkflows } from '../workflows/harness';
import { latestCheckpoint } from '../../activities/training';
import { Deps } from '../../activities/support';

let bundle: WorkflowBundle;
let scratchDir: string;
const queues = { control: uniqueId('rs-control'), inference: uniqueId('rs-inference'), train: uniqueId('rs-train') };
const started: Array<{ workers: RlhfWorkers; running: Promise<void> }> = [];

const RECIPE: RecipeInput = {
  data: { sftExamples: 32, preferencePairs: 32, evalPrompts: 4 },
  models: { demo: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 } },
  sft: { epochs: 1, batchSize: 16 },
  reward: { epochs: 1, batchSize: 16 },
  online: { iterations: 1, promptsPerIteration: 8, k: 4, maxNewTokens: 8, epochs: 150, batchSize: 2 },
  evaluation: { prompts: 4, maxNewTokens: 8 },
  execution: {
    shardSize: 8,
    checkpointEverySteps: 10,
    taskQueues: queues,
    retry: { maximumAttempts: 3, initialInterval: '200ms' },
    timeouts: { trainHeartbeat: '10s' },
  },
};

async function startWorkers(roles: Array<'control' | 'inference' | 'train'>): Promise<RlhfWorkers> {
  const config = getTestConfig({
    RLHF_CONTROL_QUEUE: queues.control,
    RLHF_INFERENCE_QUEUE: queues.inference,
    RLHF_TRAIN_QUEUE: queues.train,
    RLHF_SHUTDOWN_GRACE: '1ms',
  });
  const store = getTestStore();
  const workers = await createWorkers({ config, roles, workflowBundle: bundle, store, activities: createActivities({ store, config, scratchDir }) });
  started.push({ workers, running: workers.run() });
  return workers;
}

beforeAll(async () => {
  bundle = await bundleWorkflows();
  scratchDir = await mkdtemp(join(tmpdir(), 'durable-rlhf-resume-'));
  await getTestStore().ensureBucket();
});

afterAll(async () => {
  for (const s of started) s.workers.shutdown();
  await Promise.allSettled(started.map((s) => s.running));
  if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
});

describe('crash recovery (real engine)', () => {
  it('a train worker that dies mid-DPO is replaced; the retry resumes from the committed checkpoint', async () => {
    const client = await getTestClient();
    const store = getTestStore();
    const deps = new Deps({ store, config: getTestConfig() });
    const run = uniqueId('resume');
    try {
      await startWorkers(['control', 'inference']);
      const trainer = await startWorkers(['train']);
      const handle = await client.workflow.start(rlhfPipeline, { taskQueue: queues.control, workflowId: run, args: [{ run, ...RECIPE }] });

      await eventually(async () => (await latestCheckpoint(deps, run, 1)) !== null, 240_000, 'a committed DPO checkpoint');
      trainer.shutdown();
      await started.find((s) => s.workers === trainer)?.running;
      expect(await store.isCommitted(layout.model(run, 1))).toBe(false);

      await startWorkers(['train']);
      const result = await handle.result();
      expect(result.iterations).toBe(1);
      const manifest = await store.requireManifest(layout.model(run, 1));
      const trained = manifest.meta.result as TrainedModel;
      expect(trained.resumedFromStep).toBeGreaterThan(0);
      expect(trained.steps).toBeGreaterThan(trained.resumedFromStep);
    } finally {
      await client.connection.close();
    }
  }, 600_000);
});
