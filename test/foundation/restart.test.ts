// Durability: stop the Temporal dev server (its own instance with its own SQLite file) between a workflow's
// start and its completion; after a restart the same workflow finishes, and the committed step is not redone.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkers } from '../../workers/main';
import type { ArtifactStore } from '../../shared/store';
import { getTestConfig, getTestStore, installQuietRuntime, startPrivateTemporal, uniqueId, uniquePrefix, type PrivateTemporal } from '../helpers/services';
import { createFoundationActivities } from './activities';
import { proceed, type twoStepWorkflow } from './workflows';
import { bundleFoundationWorkflows } from './bundle';

let temporal: PrivateTemporal;
let store: ArtifactStore;

beforeAll(async () => {
  installQuietRuntime();
  temporal = await startPrivateTemporal();
  store = getTestStore();
});
afterAll(async () => {
  store?.s3.destroy();
  await temporal?.dispose();
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Temporal dev server restart', () => {
  it('completes a workflow that was in flight while the server was stopped and restarted', async () => {
    const taskQueue = uniqueId('restart');
    const config = getTestConfig({ TEMPORAL_ADDRESS: temporal.address, RLHF_CONTROL_QUEUE: taskQueue });
    const workflowBundle = await bundleFoundationWorkflows();
    const calls: string[] = [];
    const connection = await NativeConnection.connect({ address: temporal.address });
    const workers = await createWorkers({
      config,
      roles: ['control'],
      connection,
      store,
      activities: { control: createFoundationActivities(store, calls) },
      workflowBundle,
    });
    const running = workers.run();
    const prefix = uniquePrefix('restart');
    const workflowId = uniqueId('two-step');
    try {
      let client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
      await client.workflow.start<typeof twoStepWorkflow>('twoStepWorkflow', { taskQueue, workflowId, args: [{ prefix }] });
      await waitFor(() => store.isCommitted(`${prefix}/first`), 60_000, 'the first step to commit');
      await client.connection.close();

      await temporal.stop();
      await temporal.start();

      client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
      const handle = client.workflow.getHandle<typeof twoStepWorkflow>(workflowId);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      await handle.signal(proceed);
      expect(await handle.result()).toEqual([`${prefix}/first`, `${prefix}/second`]);
      expect(calls.filter((c) => c.endsWith('/first'))).toHaveLength(1);
      expect(await store.isCommitted(`${prefix}/second`)).toBe(true);
      await client.connection.close();
    } finally {
      workers.shutdown();
      await running;
      await connection.close();
    }
  }, 180_000);
});
