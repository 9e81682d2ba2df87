// A workflow whose activity writes and commits an artifact, run by the project's worker factory against
// the test run's Temporal dev server and versitygw.
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkers } from '../../workers/main';
import { getTestClient, getTestConfig, getTestStore, installQuietRuntime, uniqueId, uniquePrefix } from '../helpers/services';
import { createFoundationActivities } from './activities';
import type { commitArtifactWorkflow } from './workflows';
import { bundleFoundationWorkflows } from './bundle';

let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  installQuietRuntime();
  bundle = await bundleFoundationWorkflows();
});

describe('workflow + artifact store', () => {
  const store = getTestStore();
  afterAll(() => store.s3.destroy());

  it('runs an activity that writes and commits an artifact, then reads it back verified', async () => {
    const taskQueue = uniqueId('foundation');
    const config = getTestConfig({ RLHF_CONTROL_QUEUE: taskQueue });
    const workers = await createWorkers({
      config,
      roles: ['control'],
      store,
      activities: { control: createFoundationActivities(store) },
      workflowBundle: bundle,
    });
    const client = await getTestClient(config);
    const prefix = uniquePrefix('wf-commit');
    try {
      const result = await workers.workers[0]!.worker.runUntil(
        client.workflow.execute<typeof commitArtifactWorkflow>('commitArtifactWorkflow', {
          taskQueue,
          workflowId: uniqueId('commit-artifact'),
          args: [{ prefix, rows: 10 }],
        }),
      );
      expect(result).toEqual({ committed: prefix, rows: 10, sum: 285 });
      const manifest = await store.getManifest(prefix);
      expect(manifest?.entries.map((e) => e.key)).toEqual(['rows.jsonl']);
      expect(manifest?.meta).toEqual({ rows: 10 });
      expect(await store.list(prefix)).toHaveLength(2);
    } finally {
      await client.connection.close();
      await workers.connection.close();
    }
  });
});
