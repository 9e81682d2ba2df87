// Graceful shutdown: a worker asked to stop (as on SIGINT/SIGTERM) lets an in-flight activity finish within
// RLHF_SHUTDOWN_GRACE instead of cancelling it.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createWorkers, parseWorkerArgs } from '../../workers/main';
import { REPO_ROOT } from '../../scripts/stack';
import { getTestClient, getTestConfig, getTestEnv, getTestStore, installQuietRuntime, uniqueId } from '../helpers/services';
import { createFoundationActivities } from './activities';
import type { slowActivityWorkflow } from './workflows';
import { bundleFoundationWorkflows } from './bundle';

describe('worker', () => {
  it('finishes an in-flight activity during graceful shutdown', async () => {
    installQuietRuntime();
    const taskQueue = uniqueId('shutdown');
    const config = getTestConfig({ RLHF_CONTROL_QUEUE: taskQueue, RLHF_SHUTDOWN_GRACE: '20s' });
    const workflowBundle = await bundleFoundationWorkflows();
    const store = getTestStore();
    const calls: string[] = [];
    const activities = { control: createFoundationActivities(store, calls) };
    const workers = await createWorkers({ config, roles: ['control'], store, activities, workflowBundle });
    const running = workers.run();
    const client = await getTestClient(config);
    const workflowId = uniqueId('slow');
    try {
      const handle = await client.workflow.start<typeof slowActivityWorkflow>('slowActivityWorkflow', { taskQueue, workflowId, args: [{ ms: 3000 }] });
      const deadline = Date.now() + 60_000;
      while (!calls.includes('slow started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(calls).toContain('slow started');
      const stopAsked = Date.now();
      workers.shutdown();
      await running;
      expect(calls).toEqual(['slow started', 'slow finished']);
      expect(Date.now() - stopAsked).toBeGreaterThan(1000); // it waited for the activity

      // A new worker picks the workflow up and completes it with the activity's result.
      const again = await createWorkers({ config, roles: ['control'], store, activities, workflowBundle });
      expect(await again.workers[0]!.worker.runUntil(handle.result())).toBe('done');
      await again.connection.close();
    } finally {
      await client.connection.close();
      store.s3.destroy();
    }
  }, 120_000);

  it('the worker process stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', '--queues', 'train'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...getTestEnv({ RLHF_TRAIN_QUEUE: uniqueId('sigterm') }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!/state=RUNNING/.test(output) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    expect(output).toMatch(/worker polling sigterm-\w+ \(activities, 1 concurrent\)/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/state=STOPPED/);
  }, 90_000);

  it('parses --queues', () => {
    expect(parseWorkerArgs(['--queues', 'inference,train'])).toEqual({ roles: ['inference', 'train'] });
    expect(parseWorkerArgs(['--queues=control'])).toEqual({ roles: ['control'] });
    expect(parseWorkerArgs([])).toEqual({});
    expect(() => parseWorkerArgs(['--queue', 'x'])).toThrow("unknown argument '--queue'");
  });
});
