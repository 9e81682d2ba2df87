// Deployment behaviour of real worker processes (workers/main.ts, as the images run it): a train worker gets
// SIGTERM in the middle of SFT training. It keeps checkpointing during its shutdown grace, exits within the
// grace time (plus process teardown), and the activity resumes on another train worker from the latest
// committed checkpoint, finishing where an uninterrupted run ends. The control worker runs the workflows
// from a bundle prebuilt by deploy/docker/bundle-workflows.ts (RLHF_WORKFLOW_BUNDLE), as in the images.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeWorkflowBundle } from '../../deploy/docker/bundle-workflows';
import { REPO_ROOT } from '../../scripts/validate-deploy';
import { layout, parseStepName } from '../../shared/layout';
import { MANIFEST_NAME, type ArtifactStore } from '../../shared/store';
import type { SupervisedFineTuneInput, SupervisedFineTuneResult } from '../../workflows/supervised-fine-tune';
import { getTestClient, getTestEnv, getTestStore, uniqueId } from '../helpers/services';

const SHUTDOWN_GRACE_S = 3;
/** Process start-up and teardown (tsx, native core, engine threads) on a loaded 2-core box. */
const EXIT_SLACK_S = 20;

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let scratch: string;
let bundlePath: string;
let client: Client;
let store: ArtifactStore;
const queues = { control: uniqueId('sigterm-control'), inference: uniqueId('sigterm-inference'), train: uniqueId('sigterm-train') };
const started: WorkerProcess[] = [];

function startWorker(name: string, queue: 'control' | 'train'): WorkerProcess {
  const env = getTestEnv({
    RLHF_CONTROL_QUEUE: queues.control,
    RLHF_INFERENCE_QUEUE: queues.inference,
    RLHF_TRAIN_QUEUE: queues.train,
    RLHF_SHUTDOWN_GRACE: `${SHUTDOWN_GRACE_S}s`,
    RLHF_WORKFLOW_BUNDLE: bundlePath,
    RLHF_SCRATCH_DIR: join(scratch, name),
    RLHF_LOG_LEVEL: 'WARN',
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', '--queues', queue], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const w = { name, child, output: () => output, exited };
  started.push(w);
  return w;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, workers: WorkerProcess[] = []): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    for (const w of workers) {
      if (w.child.exitCode !== null) throw new Error(`${w.name} exited (${w.child.exitCode}) while waiting for ${what}:\n${w.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${workers.map((w) => `--- ${w.name}\n${w.output()}`).join('\n')}`);
    await sleep(250);
  }
}

/** Steps of the committed SFT checkpoints of `run`. */
async function committedCheckpoints(run: string): Promise<number[]> {
  const root = layout.trainCheckpoints(run, 'sft');
  const steps: number[] = [];
  for (const o of await store.list(root)) {
    if (!o.key.endsWith(`/${MANIFEST_NAME}`)) continue;
    const rel = o.key.slice(root.length + 1).split('/');
    const step = rel.length === 2 ? parseStepName(rel[0] ?? '') : undefined;
    if (step !== undefined) steps.push(step);
  }
  return steps.sort((a, b) => a - b);
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'durable-rlhf-sigterm-'));
  bundlePath = join(scratch, 'workflow-bundle.js');
  await writeWorkflowBundle(bundlePath);
  client = await getTestClient();
  store = getTestStore();
  await store.ensureBucket();
}, 180_000);

afterAll(async () => {
  for (const w of started) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await client?.connection.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('SIGTERM during training (worker processes)', () => {
  it('the train worker drains within its grace time and the activity resumes on another worker from the checkpoint', async () => {
    const control = startWorker('control', 'control');
    const trainA = startWorker('train-a', 'train');
    const run = uniqueId('sigterm');
    const input: SupervisedFineTuneInput = {
      run,
      recipe: {
        data: { sftExamples: 32, preferencePairs: 8, evalPrompts: 4 },
        evaluation: { prompts: 4 },
        // Long enough that the 3 s drain cannot finish it (~60 steps/s here): 1024 steps.
        sft: { epochs: 32, batchSize: 1 },
        execution: {
          taskQueues: queues,
          checkpointEverySteps: 4,
          checkpointEverySeconds: 3600,
          searchAttributes: false,
          threads: 1,
          timeouts: { trainHeartbeat: '15s' },
          retry: { maximumAttempts: 5, initialInterval: '1s', maximumInterval: '2s' },
        },
      },
    };
    const handle = await client.workflow.start('supervisedFineTune', { taskQueue: queues.control, workflowId: `${run}/sft`, args: [input] });

    // Let A train until a checkpoint is committed, then stop it the way Kubernetes and Docker do.
    const before = await waitFor('the first committed SFT checkpoint', 240_000, async () => {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') throw new Error(`workflow ${status.name} before any checkpoint:\n${control.output()}\n${trainA.output()}`);
      const steps = await committedCheckpoints(run);
      return steps.length > 0 ? steps[steps.length - 1] : undefined;
    }, [control, trainA]);
    const termAt = Date.now();
    trainA.child.kill('SIGTERM');
    const exit = await Promise.race([trainA.exited, sleep((SHUTDOWN_GRACE_S + EXIT_SLACK_S) * 1000).then(() => null)]);
    const exitSeconds = (Date.now() - termAt) / 1000;
    expect(exit, `train-a did not exit within ${SHUTDOWN_GRACE_S + EXIT_SLACK_S}s of SIGTERM:\n${trainA.output()}`).not.toBeNull();
    expect(exit?.signal, trainA.output()).toBeNull(); // it exited on its own, not killed by the signal
    expect(exit?.code, trainA.output()).toBe(0);
    expect(await store.isCommitted(layout.model(run, 'sft'))).toBe(false); // interrupted, not finished
    const atExit = await committedCheckpoints(run);
    const resumeStep = atExit[atExit.length - 1] ?? 0;
    // The activity went on training and committing checkpoints while the worker drained.
    expect(resumeStep, trainA.output()).toBeGreaterThan(before);

    // Another worker picks the activity up again and resumes from the latest committed checkpoint.
    const trainB = startWorker('train-b', 'train');
    const result = (await Promise.race([
      handle.result(),
      trainB.exited.then(() => Promise.reject(new Error(`train-b exited early:\n${trainB.output()}`))),
    ])) as SupervisedFineTuneResult;
    expect(result.resumedFromStep).toBe(resumeStep);
    expect(result.resumedFromStep).toBeGreaterThan(0);
    expect(result.steps).toBe(32 * 32); // epochs × rows / batch size: the whole schedule, not a restart
    expect(await store.isCommitted(layout.model(run, 'sft'))).toBe(true);
    console.log(
      `SIGTERM at checkpoint step ${before}: train-a exited ${exit?.code} after ${exitSeconds.toFixed(1)}s (grace ${SHUTDOWN_GRACE_S}s); ` +
        `train-b resumed from step ${result.resumedFromStep} of ${result.steps}`,
    );

    for (const w of [trainB, control]) w.child.kill('SIGTERM');
    const exits = await Promise.all([trainB.exited, control.exited]);
    expect(exits.map((e) => e.signal)).toEqual([null, null]);
  }, 600_000);
});
