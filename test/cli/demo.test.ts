// `durable-rlhf demo` end to end on the test services with a tiny configuration: in-process worker, the
// pipeline, the offline-DPO baseline run, progress lines without a TTY, the final table and the report.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../cli/context';
import { main } from '../../cli/main';
import { FILE, layout } from '../../shared/layout';
import type { ArtifactStore } from '../../shared/store';
import { getTestClient, getTestEnv, getTestStore, uniqueId } from '../helpers/services';

const TINY = [
  'data.sftExamples=64',
  'data.preferencePairs=64',
  'data.evalPrompts=8',
  'models.demo.hidden_size=32',
  'models.demo.intermediate_size=64',
  'models.demo.num_hidden_layers=1',
  'sft.epochs=1',
  'reward.epochs=1',
  'online.iterations=2',
  'online.promptsPerIteration=8',
  'online.k=4',
  'online.batchSize=4',
  'evaluation.prompts=8',
  'execution.shardSize=4',
].flatMap((s) => ['--set', s]);

let client: Client;
let store: ArtifactStore;

beforeAll(async () => {
  Object.assign(process.env, getTestEnv());
  client = await getTestClient();
  store = getTestStore();
});

afterAll(async () => {
  await client?.connection.close();
});

describe('durable-rlhf demo', () => {
  it('runs the pipeline and the offline-DPO baseline, prints the table and writes the report', async () => {
    const id = uniqueId('demo');
    const lines: string[] = [];
    const progress: string[] = [];
    const errors: string[] = [];
    const io: Io = {
      out: (l) => lines.push(l),
      err: (l) => errors.push(l),
      stdout: Object.assign(Object.create(process.stdout) as NodeJS.WriteStream, { isTTY: false, write: (t: string) => progress.push(t) > 0 }),
    };
    const code = await main(['demo', '--id', id, '--interval', '1', ...TINY], io);
    expect(errors).toEqual([]);
    expect(code).toBe(0);

    // Progress: timestamped lines (no terminal control codes) that name the stages as they pass.
    const log = progress.join('');
    expect(log).not.toContain('\x1b');
    expect(log).toMatch(/^\[\d\d:\d\d:\d\d\] run /m);
    expect(log).toContain('▶ online-dpo');
    expect(log).toContain('offline DPO baseline:');

    // Final table: SFT and offline-DPO baselines, then both iterations, every metric filled.
    const table = lines.slice(lines.findIndex((l) => l.startsWith('■ results')) + 1);
    expect(table[0]).toMatch(/policy\s+gold\s+RM reward\s+win vs SFT\s+length\s+KL/);
    const row = (name: string): string => table.find((l) => l.trimStart().startsWith(name)) ?? '';
    for (const name of ['SFT (baseline)', 'offline DPO (baseline)', 'online DPO iter 1', 'online DPO iter 2']) {
      expect(row(name), name).toMatch(/\d\.\d{3}\s+-?\d+\.\d{3}\s+\d+\.\d%\s+\d+\.\d\s+-?\d+\.\d{3}$/);
    }
    expect(row('SFT (baseline)')).toMatch(/50\.0%/);

    // The baseline is an rlhfPipeline run next to the run: SFT and RM reused, all 2×8 prompts in one round.
    const offline = await client.workflow.getHandle(`${id}/offline-dpo`).describe();
    expect(offline.status.name).toBe('COMPLETED');
    const offlineConfig = await store.getJson<{ options: { online: { iterations: number; promptsPerIteration: number }; models: { sft: string; reward: string } } }>(
      `${layout.config(`${id}/offline-dpo`)}/${FILE.runConfig}`,
    );
    expect(offlineConfig.options.online).toMatchObject({ iterations: 1, promptsPerIteration: 16 });
    expect(offlineConfig.options.models.sft).toBe(`s3://${store.bucket}/${layout.model(id, 'sft')}`);
    expect(offlineConfig.options.models.reward).toBe(`s3://${store.bucket}/${layout.model(id, 'reward-model')}`);

    // Report path and UI address; the report has the baseline row and is uploaded next to the run.
    const reportLine = lines.find((l) => l.startsWith('report: ')) ?? '';
    const path = reportLine.slice('report: '.length);
    expect(existsSync(path)).toBe(true);
    const html = readFileSync(path, 'utf8');
    expect(html).toContain('<tr class="baseline"><td>offline DPO</td>');
    expect(html).toContain('id="loss-dpo"');
    expect(await store.getText(`${layout.report(id)}/index.html`)).toBe(html);
    expect(lines).toContain(`UI:     http://127.0.0.1:8233/namespaces/default/workflows/${id}`);
    rmSync(path); // .artifacts/reports/ is git-ignored; don't let test runs pile reports up there
  }, 900_000);
});
