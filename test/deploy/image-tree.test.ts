// The CPU worker image's runtime stage, assembled on the host without Docker (assembleImageTree): production
// dependencies only (npm ci --omit=dev, pruned native binaries), the Dockerfile's COPY set, the prebuilt
// workflow bundle, its ENV and ENTRYPOINT. Its bucket job and its worker run against the test services and
// carry an SFT run through to a committed model; SIGTERM then stops the worker cleanly.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_DIR, assembleImageTree, run, type ImageTree } from '../../scripts/validate-deploy';
import { layout } from '../../shared/layout';
import type { SupervisedFineTuneInput, SupervisedFineTuneResult } from '../../workflows/supervised-fine-tune';
import { getTestClient, getTestEnv, getTestStore, uniqueId } from '../helpers/services';

let scratch: string;
let tree: ImageTree;
let client: Client;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'durable-rlhf-image-'));
  tree = await assembleImageTree(join(DOCKER_DIR, 'cpu.Dockerfile'), scratch, { log: (l) => console.log(`[image] ${l}`) });
  client = await getTestClient();
}, 20 * 60_000);

afterAll(async () => {
  await client?.connection.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The container's environment: the image's ENV, the test services, per-test overrides. */
function containerEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: scratch, ...tree.env, ...getTestEnv(overrides), RLHF_SCRATCH_DIR: join(scratch, 'scratch') };
}

describe('CPU image tree (no Docker)', () => {
  it('has production dependencies only, this platform’s native binaries and the prebuilt bundle', () => {
    const modules = join(tree.appDir, 'node_modules');
    expect(existsSync(join(modules, '@temporalio', 'worker'))).toBe(true);
    expect(existsSync(join(modules, 'tsx'))).toBe(true);
    for (const dev of ['vitest', 'typescript', 'eslint', 'fast-check']) expect(existsSync(join(modules, dev)), dev).toBe(false);
    expect(existsSync(join(modules, 'onnxruntime-node', 'bin', 'napi-v6', 'darwin'))).toBe(false);
    expect(existsSync(join(modules, 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'onnxruntime_binding.node'))).toBe(true);
    expect(tree.env.RLHF_WORKFLOW_BUNDLE).toBe(join(tree.appDir, 'dist', 'workflow-bundle.js'));
    expect(existsSync(tree.env.RLHF_WORKFLOW_BUNDLE ?? '')).toBe(true);
    expect(existsSync(join(tree.appDir, 'test'))).toBe(false);
    expect(tree.entrypoint).toEqual(['node', '--import', 'tsx', 'workers/main.ts']);
  });

  it('the create-bucket job creates the bucket, and the worker runs an SFT stage from the prebuilt bundle', async () => {
    const bucket = uniqueId('deploy-image');
    const made = await run('node', ['--import', 'tsx', 'deploy/docker/ensure-bucket.ts'], { cwd: tree.appDir, env: containerEnv({ S3_BUCKET: bucket }) });
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain(`bucket ready: s3://${bucket}`);

    const queues = { control: uniqueId('img-control'), inference: uniqueId('img-inference'), train: uniqueId('img-train') };
    const [command, ...args] = tree.entrypoint;
    const worker = spawn(command ?? 'node', args, {
      cwd: tree.appDir,
      env: containerEnv({ RLHF_CONTROL_QUEUE: queues.control, RLHF_INFERENCE_QUEUE: queues.inference, RLHF_TRAIN_QUEUE: queues.train, RLHF_SHUTDOWN_GRACE: '5s' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    worker.stdout.on('data', (d: Buffer) => (output += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => worker.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      const run_ = uniqueId('image');
      const input: SupervisedFineTuneInput = {
        run: run_,
        recipe: {
          data: { sftExamples: 8, preferencePairs: 8, evalPrompts: 4 },
          evaluation: { prompts: 4 },
          sft: { epochs: 1, batchSize: 4 },
          execution: { taskQueues: queues, searchAttributes: false, threads: 1, retry: { maximumAttempts: 2, initialInterval: '1s', maximumInterval: '2s' } },
        },
      };
      const handle = await client.workflow.start('supervisedFineTune', { taskQueue: queues.control, workflowId: `${run_}/sft`, args: [input] });
      const result = (await Promise.race([
        handle.result(),
        exited.then(() => Promise.reject(new Error(`the image worker exited early:\n${output}`))),
      ])) as SupervisedFineTuneResult;
      expect(result.steps).toBe(2);
      expect(await getTestStore().isCommitted(layout.model(run_, 'sft'))).toBe(true);
      expect(output).toContain(`worker polling ${queues.control} (workflows + activities`);
    } finally {
      worker.kill('SIGTERM');
    }
    const exit = await exited;
    expect(exit, output).toEqual({ code: 0, signal: null });
  }, 300_000);
});
