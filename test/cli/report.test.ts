// `durable-rlhf report` against the test services: no worker answers the queries, so the report is built
// from what the pipeline left in S3 (run summary, the offline baseline's summary, loss curves in manifests)
// and uploaded next to the run.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../cli/context';
import { main } from '../../cli/main';
import { FILE, layout } from '../../shared/layout';
import { RlhfSweep } from '../../shared/search-attributes';
import type { ArtifactStore } from '../../shared/store';
import { getTestClient, getTestEnv, getTestStore, uniqueId } from '../helpers/services';

let client: Client;
let store: ArtifactStore;
const started: string[] = [];

const metric = (iteration: number, gold: number) => ({
  iteration,
  meanReward: gold - 1,
  winRateVsSft: iteration === 0 ? 0.5 : 0.5 + iteration / 10,
  meanResponseLength: 4.4,
  kl: iteration / 2,
  gold,
  prompts: 32,
  policy: `runs/x/iter-000${iteration}/policy`,
  pairs: iteration === 0 ? 0 : 30,
});

beforeAll(async () => {
  Object.assign(process.env, getTestEnv());
  client = await getTestClient();
  store = getTestStore();
  await store.ensureBucket();
});

afterAll(async () => {
  for (const id of started) await client.workflow.getHandle(id).terminate('test cleanup').catch(() => undefined);
  await client?.connection.close();
});

describe('durable-rlhf report', () => {
  it('builds the report from the run summary in S3 and uploads it next to the run', async () => {
    const id = uniqueId('report-run');
    await client.workflow.start('rlhfPipeline', { taskQueue: uniqueId('no-worker'), workflowId: id, args: [{}] });
    started.push(id);
    await store.putJson(`${layout.summary(id)}/${FILE.summary}`, {
      run: id,
      metrics: [metric(0, 0.6), metric(1, 0.7), metric(2, 0.8)],
      options: { online: { beta: 0.1, iterations: 2 }, data: { task: 'sort-digits' } },
    });
    await store.putJson(`${layout.summary(`${id}/offline-dpo`)}/${FILE.summary}`, { metrics: [metric(0, 0.6), metric(1, 0.66)] });
    const weights = await store.putBytes(`${layout.model(id, 'sft')}/model.safetensors`, 'not really weights');
    await store.commit(layout.model(id, 'sft'), [weights], { lossCurve: [{ step: 1, loss: 5 }, { step: 2, loss: 3 }, { step: 3, loss: 2.5 }] });

    const out = join(mkdtempSync(join(tmpdir(), 'rlhf-report-')), 'r.html');
    const lines: string[] = [];
    const errors: string[] = [];
    const io: Io = { out: (l) => lines.push(l), err: (l) => errors.push(l), stdout: process.stdout };
    expect(await main(['report', id, '--out', out], io)).toBe(0);
    expect(errors).toEqual([]);
    expect(lines).toEqual([`report written to ${out}`, `uploaded to s3://${store.bucket}/${layout.report(id)}/index.html`]);

    const html = readFileSync(out, 'utf8');
    expect(html).toContain(`<tr class="baseline"><td>offline DPO</td><td>0.66</td>`);
    expect(html).toContain('<tr class="best"><td>iteration 2</td><td>0.8</td>');
    expect(html).toContain('id="loss-sft"');
    expect(html).toContain('task sort-digits');
    expect(html).toContain('status RUNNING');
    expect(await store.getText(`${layout.report(id)}/index.html`)).toBe(html);

    // status without a worker falls back to the same summary.
    const status: string[] = [];
    expect(await main(['status', id], { out: (l) => status.push(l), err: (l) => status.push(l), stdout: process.stdout })).toBe(0);
    expect(status[1]).toMatch(/^\(from the run summary s3:\/\/.*\/summary\/; no worker polls 'no-worker-[0-9a-f]+' for live status\)$/);
    expect(status.find((l) => l.startsWith('offline DPO (baseline)'))).toMatch(/0\.660/);
    expect(status.find((l) => l.startsWith('online DPO iter 2'))).toMatch(/0\.800/);
  });

  it('says clearly when there is nothing to report yet, or no worker to ask', async () => {
    const id = uniqueId('report-empty');
    await client.workflow.start('rlhfPipeline', { taskQueue: uniqueId('no-worker'), workflowId: id, args: [{}] });
    started.push(id);
    const errors: string[] = [];
    const io: Io = { out: () => undefined, err: (l) => errors.push(l), stdout: process.stdout };
    expect(await main(['report', id, '--no-upload'], io)).toBe(1);
    expect(errors).toEqual([`error: no metrics for '${id}': no worker answered the metrics query and s3://${store.bucket}/${layout.summary(id)}/${FILE.summary} does not exist yet`]);
    expect(await main(['report', 'no-such-workflow-xyz'], io)).toBe(1);
    expect(errors[1]).toBe("error: workflow 'no-such-workflow-xyz' not found in namespace 'default'");
    // status needs a worker to answer its query: say so at once instead of timing out.
    expect(await main(['status', id], io)).toBe(1);
    expect(errors[2]).toMatch(/^error: no worker polls task queue 'no-worker-[0-9a-f]+', so '[^']+' cannot answer queries: start one with `durable-rlhf worker`$/);
    expect(errors[2]).toContain(`'${id}'`);
  });

  it('compares the runs of a sweep on one page, by the options that differ', async () => {
    const sweep = uniqueId('rs');
    const queue = uniqueId('no-worker');
    for (const [i, beta] of [0.05, 0.3].entries()) {
      const id = `sweep-${sweep}/run-${i}`;
      await client.workflow.start('rlhfPipeline', { taskQueue: queue, workflowId: id, args: [{}], typedSearchAttributes: [{ key: RlhfSweep, value: sweep }] });
      started.push(id);
      await store.putJson(`${layout.summary(id)}/${FILE.summary}`, {
        metrics: [metric(0, 0.6), metric(1, 0.6 + beta)],
        options: { seed: 42, online: { beta, iterations: 1 } },
      });
    }
    // Visibility is eventually consistent.
    for (let tries = 0; ; tries++) {
      let n = 0;
      for await (const _ of client.workflow.list({ query: `RlhfSweep = '${sweep}'` })) n++;
      if (n === 2) break;
      if (tries > 60) throw new Error(`sweep runs not visible (${n}/2)`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const out = join(mkdtempSync(join(tmpdir(), 'rlhf-sweep-report-')), 's.html');
    const lines: string[] = [];
    const errors: string[] = [];
    const io: Io = { out: (l) => lines.push(l), err: (l) => errors.push(l), stdout: process.stdout };
    expect(await main(['report', '--sweep', sweep, '--out', out], io)).toBe(0);
    expect(errors).toEqual([]);
    expect(lines).toEqual([`report written to ${out}`, `uploaded to s3://${store.bucket}/sweeps/${sweep}/report/index.html`]);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<th><code>online.beta</code></th>');
    expect(html).not.toContain('<th><code>seed</code></th>'); // same in every run: not part of the point
    expect(html.match(/<tr( class="best")?><td><a /g)).toHaveLength(2);
    expect(html).toContain(`<tr class="best"><td><a href="http://127.0.0.1:8233/namespaces/default/workflows/sweep-${sweep}%2Frun-1">`);
  });

  it('watch says when no worker answers, and ends (non-zero) when the run is terminated', async () => {
    const id = uniqueId('watch');
    await client.workflow.start('rlhfPipeline', { taskQueue: uniqueId('no-worker'), workflowId: id, args: [{}] });
    started.push(id);
    const lines: string[] = [];
    const printed: string[] = [];
    const io: Io = {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      stdout: Object.assign(Object.create(process.stdout) as NodeJS.WriteStream, { isTTY: false, write: (t: string) => printed.push(t) > 0 }),
    };
    const watching = main(['watch', id, '--interval', '1'], io);
    await new Promise((r) => setTimeout(r, 2500));
    await client.workflow.getHandle(id).terminate('end of the watch test');
    const code = await watching;
    expect(code).toBe(1);
    expect(printed.join('')).toMatch(new RegExp(`${id}: RUNNING · no worker polls task queue 'no-worker-[0-9a-f]+'`));
    expect(lines[lines.length - 1]).toBe(`${id} terminated`);
  });
});
