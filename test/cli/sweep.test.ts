// `durable-rlhf sweep` and `list --sweep` against the test Temporal server. No worker polls the sweep's task
// queue, so the runs stay RUNNING until the test terminates them: the sweep only has to start them with the
// right ids, search attribute and summary, and honour --max-parallel.
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../cli/context';
import { main } from '../../cli/main';
import { RlhfSweep } from '../../shared/search-attributes';
import { getTestClient, getTestEnv, uniqueId } from '../helpers/services';

let client: Client;
const started: string[] = [];

function captureIo(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    stdout: Object.assign(Object.create(process.stdout) as NodeJS.WriteStream, { isTTY: false, write: (t: string) => lines.push(t) !== 0 }),
  };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

beforeAll(async () => {
  Object.assign(process.env, getTestEnv());
  client = await getTestClient();
});

afterAll(async () => {
  for (const id of started) await client.workflow.getHandle(id).terminate('test cleanup').catch(() => undefined);
  await client?.connection.close();
});

describe('durable-rlhf sweep', () => {
  it('starts one run per grid point and list --sweep shows exactly those', async () => {
    const sweepId = uniqueId('grid');
    const queue = uniqueId('no-worker');
    const io = captureIo();
    const code = await main(['sweep', '--grid', 'beta=0.05,0.1', '--grid', 'lr=1e-4,5e-5', '--id', sweepId, '--set', `execution.taskQueues.control=${queue}`], io);
    expect(io.errors).toEqual([]);
    expect(code).toBe(0);
    const ids = [0, 1, 2, 3].map((i) => `sweep-${sweepId}/run-${i}`);
    started.push(...ids);
    expect(io.lines.filter((l) => l.trim().startsWith('started '))).toHaveLength(4);
    expect(io.lines).toContain(`  started sweep-${sweepId}/run-3  beta=0.1 learningRate=0.00005`);

    // Each run: its point in the input, the sweep search attribute, a one-line summary naming the point.
    const handle = client.workflow.getHandle(ids[1] as string);
    const description = await handle.describe();
    expect(description.type).toBe('rlhfPipeline');
    expect(description.taskQueue).toBe(queue);
    expect(description.typedSearchAttributes.get(RlhfSweep)).toBe(sweepId);
    expect(await description.staticSummary()).toBe(`sweep ${sweepId} · run 1 · beta=0.05 learningRate=0.00005`);

    // Visibility is eventually consistent: poll `list --sweep` until all four show.
    const listed = await until('4 runs in list --sweep', async () => {
      const out = captureIo();
      expect(await main(['list', '--sweep', sweepId], out)).toBe(0);
      const rows = out.lines.filter((l) => l.startsWith(`sweep-${sweepId}/`));
      return rows.length === 4 ? rows : undefined;
    });
    expect(listed.map((l) => l.split(/\s+/)[0]).sort()).toEqual(ids);
    for (const row of listed) expect(row).toMatch(/\sRUNNING\s/);

    // Another sweep's filter does not see them.
    const other = captureIo();
    await main(['list', '--sweep', `${sweepId}-other`], other);
    expect(other.lines.join('\n')).toMatch(/^no runs match/);

    // Re-issuing the same sweep does not start duplicates.
    const again = captureIo();
    expect(await main(['sweep', '--grid', 'beta=0.05,0.1', '--grid', 'lr=1e-4,5e-5', '--id', sweepId, '--set', `execution.taskQueues.control=${queue}`], again)).toBe(0);
    expect(again.lines.filter((l) => l.trim().startsWith('running '))).toHaveLength(4);
  });

  it('a re-issued sweep leaves running points alone and reruns terminated ones', async () => {
    const sweepId = uniqueId('reissue');
    const queue = uniqueId('no-worker');
    const args = ['sweep', '--grid', 'beta=0.1,0.2', '--id', sweepId, '--set', `execution.taskQueues.control=${queue}`];
    const ids = [0, 1].map((i) => `sweep-${sweepId}/run-${i}`);
    started.push(...ids);
    expect(await main(args, captureIo())).toBe(0);
    // run-0 is terminated (as a failed run would be); run-1 keeps running. Completed points are kept by the same
    // reuse policy (ALLOW_DUPLICATE_FAILED_ONLY); completing a run needs a worker, so that case is not run here.
    const first = await client.workflow.getHandle(ids[0] as string).describe();
    await client.workflow.getHandle(ids[0] as string).terminate('simulated failure');
    const io = captureIo();
    expect(await main(args, io)).toBe(0);
    expect(io.lines).toContain(`  started sweep-${sweepId}/run-0  beta=0.1`);
    expect(io.lines).toContain(`  running sweep-${sweepId}/run-1  beta=0.2`);
    const second = await client.workflow.getHandle(ids[0] as string).describe();
    expect(second.runId).not.toBe(first.runId);
    expect(second.status.name).toBe('RUNNING');
  });

  it('--max-parallel 1 starts the next run only when one finishes', async () => {
    const sweepId = uniqueId('serial');
    const queue = uniqueId('no-worker');
    const ids = [0, 1].map((i) => `sweep-${sweepId}/run-${i}`);
    started.push(...ids);
    const io = captureIo();
    const sweep = main(['sweep', '--grid', 'beta=0.1,0.2', '--max-parallel', '1', '--id', sweepId, '--set', `execution.taskQueues.control=${queue}`], io);
    await until('run-0 to start', async () => (await client.workflow.getHandle(ids[0] as string).describe().then(() => true, () => undefined)));
    await new Promise((r) => setTimeout(r, 1500));
    await expect(client.workflow.getHandle(ids[1] as string).describe()).rejects.toThrow();
    await client.workflow.getHandle(ids[0] as string).terminate('finish run-0 for the test');
    expect(await sweep).toBe(0);
    const second = await client.workflow.getHandle(ids[1] as string).describe();
    expect(second.status.name).toBe('RUNNING');
    expect(io.lines.some((l) => l.startsWith(`  ended ${ids[0]}`))).toBe(true);
  });
});
