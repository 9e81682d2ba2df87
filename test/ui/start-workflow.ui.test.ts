// Issue #6 acceptance: a user starts `rlhfPipeline` from the Temporal Web UI and watches it finish there.
// A private Temporal dev server WITH the Web UI (the shared test server is headless), the project's search
// attributes registered (scripts/stack.ts), the real workers (workers/main.ts) on the real default task
// queues rlhf-control / rlhf-inference / rlhf-train with the real engine, and S3 from the shared test
// services. Headless Chromium (Debian's, driven by playwright-core) opens the UI, fills the "Start Workflow"
// form (workflow id, task queue, workflow type, one JSON input: a tiny recipe), waits on the workflow page
// until the status reads Completed, and checks that the run's Current Details show the iteration table.
// Screenshots go to test-results/ui/ (git-ignored) as artifacts: start-workflow.png (the workflow page,
// User Metadata tab) and current-details.png (the details table alone).
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { WorkflowBundle } from '@temporalio/worker';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { metricsQuery } from '../../shared/messages';
import type { RecipeInput } from '../../shared/recipe';
import { requireChromium } from '../../scripts/ensure-chromium';
import { stackOptions, startTemporal, stopTemporal, type StackOptions } from '../../scripts/stack';
import { createWorkers, type RlhfWorkers } from '../../workers/main';
import { freePort } from '../helpers/ports';
import { getTestClient, getTestConfig, getTestStore, uniqueId } from '../helpers/services';
import { bundleWorkflows } from '../workflows/harness';

/** A recipe small enough for the real engine to finish in about a minute: 2 online iterations. */
const TINY: RecipeInput = {
  seed: 11,
  data: { sftExamples: 32, preferencePairs: 32, evalPrompts: 4 },
  models: { demo: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 } },
  sft: { epochs: 1, batchSize: 8 },
  reward: { epochs: 1, batchSize: 8 },
  online: { iterations: 2, promptsPerIteration: 8, k: 4, maxNewTokens: 8, epochs: 1, batchSize: 4 },
  evaluation: { prompts: 4, maxNewTokens: 8 },
  execution: { shardSize: 4, inferenceWindow: 2, checkpointEverySteps: 2, threads: 1, retry: { maximumAttempts: 3 } },
};

const outDir = resolve(import.meta.dirname, '../../test-results/ui');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dataDir: string;
let scratchDir: string;
let temporal: StackOptions | undefined;
let address: string;
let uiUrl: string;
let bundle: WorkflowBundle;
let workers: RlhfWorkers | undefined;
let running: Promise<void> | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  const executablePath = requireChromium(); // one line saying how to install Chromium when it is missing
  mkdirSync(outDir, { recursive: true });
  dataDir = await mkdtemp(join(tmpdir(), 'durable-rlhf-ui-'));
  scratchDir = join(dataDir, 'scratch');
  temporal = stackOptions({ dataDir, temporalPort: await freePort(), uiPort: await freePort(), services: ['temporal'], ownerPid: process.pid }, process.env);
  address = `${temporal.host}:${temporal.temporalPort}`;
  uiUrl = `http://${temporal.host}:${temporal.uiPort}`;
  // Bundle the workflows while the server starts.
  [bundle] = await Promise.all([bundleWorkflows(), startTemporal(temporal)]);
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${uiUrl}/api/v1/settings`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error(`the Temporal Web UI did not answer on ${uiUrl} within 60 s (log ${join(dataDir, 'logs', 'temporal.log')})`);
    await sleep(300);
  }
  const settings = (await (await fetch(`${uiUrl}/api/v1/settings`)).json()) as { StartWorkflowDisabled?: boolean; DisableWriteActions?: boolean };
  if (settings.StartWorkflowDisabled || settings.DisableWriteActions) throw new Error(`the Web UI on ${uiUrl} has Start Workflow disabled: ${JSON.stringify(settings)}`);

  // The real workers, on the private server and the real default queue names, with S3 from the test services.
  const config = getTestConfig({ TEMPORAL_ADDRESS: address });
  expect(config.queues).toEqual({ control: 'rlhf-control', inference: 'rlhf-inference', train: 'rlhf-train' });
  const store = getTestStore();
  await store.ensureBucket();
  workers = await createWorkers({ config, workflowBundle: bundle, store, activities: createActivities({ store, config, scratchDir }) });
  running = workers.run();
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  workers?.shutdown();
  await running?.catch(() => undefined);
  if (temporal) await stopTemporal(temporal);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The page's visible text, for failure messages. */
async function visibleText(page: Page): Promise<string> {
  return (await page.locator('body').innerText().catch(() => '')).slice(0, 3000);
}

describe('Temporal Web UI', () => {
  it('starts rlhfPipeline from the Start Workflow form and shows it Completed with the iteration table', async () => {
    const workflowId = uniqueId('ui-start');
    const page = await (browser as Browser).newPage({ viewport: { width: 1440, height: 1000 } });
    let table: string[][] = [];
    let headline = '';
    try {
      // The workflow list has the "Start Workflow" button (a link with role=button).
      await page.goto(`${uiUrl}/namespaces/default/workflows`, { waitUntil: 'domcontentloaded' });
      await page.getByRole('button', { name: 'Start Workflow' }).click();
      await page.getByRole('heading', { name: 'Start a Workflow' }).waitFor();

      await page.getByLabel('Workflow ID').fill(workflowId);
      await page.getByLabel('Task Queue').fill('rlhf-control');
      await page.getByLabel('Workflow Type').fill('rlhfPipeline');
      // Once the queue field loses focus the UI looks the queue up: our control worker polls it.
      await page.getByText('Task Queue is Active').waitFor({ timeout: 30_000 });
      // Input → Data is a code editor (a contenteditable textbox): one JSON payload, the workflow's one object parameter.
      const data = page.locator('main [role="textbox"][contenteditable="true"]');
      await data.fill(JSON.stringify(TINY));
      // The form takes the input when the editor loses focus (it re-indents valid JSON then); a click on
      // Start before that starts nothing.
      await data.blur();
      await expect.poll(() => data.innerText(), { timeout: 10_000 }).toContain('"sftExamples": 32');
      await page.getByTestId('start-workflow-button').click();

      // The toast links to the new workflow.
      const started = page.getByRole('link', { name: 'Workflow started successfully' });
      await started.waitFor({ timeout: 30_000 });
      await started.click();
      await page.waitForURL(new RegExp(`/workflows/${workflowId}/[^/]+/history`), { timeout: 30_000 });
      const header = page.locator('header').first();
      await header.getByRole('heading', { name: workflowId }).waitFor({ timeout: 30_000 });

      // The page refreshes a running workflow by itself: wait until the header's status badge reads Completed.
      await header.getByText('Completed', { exact: true }).waitFor({ timeout: 150_000 });

      // User Metadata → Current Details: the markdown from setCurrentDetails, fetched through the worker
      // (a built-in query) and rendered by the UI in an iframe.
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await page.getByRole('heading', { name: 'Current Details' }).waitFor({ timeout: 30_000 });
      const details = page.frameLocator(`iframe[title="output"][src*="${workflowId}"]`);
      await details.locator('table').waitFor({ timeout: 30_000 });
      headline = await details.locator('p').first().innerText();
      table = await details.locator('table tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim())));
    } catch (err) {
      await page.screenshot({ path: join(outDir, 'start-workflow-failed.png'), fullPage: true }).catch(() => undefined);
      throw new Error(`${(err as Error).message}\n--- page ${page.url()} ---\n${await visibleText(page)}`);
    }
    await page.screenshot({ path: join(outDir, 'start-workflow.png'), fullPage: true });
    // A second artifact with the whole table: the UI sizes the details iframe before its content settles
    // (it may clip the last row), so grow it to its content for this picture.
    const frame = page.locator(`iframe[title="output"][src*="${workflowId}"]`);
    await frame.evaluate((el) => {
      const iframe = el as unknown as { style: { height: string }; contentDocument: { documentElement: { scrollHeight: number } } | null };
      iframe.style.height = `${(iframe.contentDocument?.documentElement.scrollHeight ?? 200) + 16}px`;
    });
    await frame.screenshot({ path: join(outDir, 'current-details.png') });
    await page.close();

    // The table the UI shows is the run's: one row per evaluated policy (SFT, then each iteration), the
    // figures of the workflow's own metrics.
    const client = await getTestClient(getTestConfig({ TEMPORAL_ADDRESS: address }));
    try {
      const handle = client.workflow.getHandle(workflowId);
      const description = await handle.describe();
      expect(description.status.name).toBe('COMPLETED');
      expect(description.taskQueue).toBe('rlhf-control');
      expect(description.type).toBe('rlhfPipeline');
      const metrics = await handle.query(metricsQuery);
      expect(metrics.map((m) => m.iteration)).toEqual([0, 1, 2]);

      expect(headline).toBe(`${workflowId} — completed`);
      expect(table[0]).toEqual(['iter', 'RM reward', 'win vs SFT', 'length', 'KL', 'gold', 'pairs', 'β', 'lr']);
      const rows = table.slice(1);
      expect(rows.map((r) => r[0])).toEqual(['SFT', '1', '2']);
      for (const [i, m] of metrics.entries()) {
        expect(rows[i]?.[1], `RM reward of row ${i}`).toBe(m.meanReward.toFixed(3));
        expect(rows[i]?.[2], `win vs SFT of row ${i}`).toBe(m.winRateVsSft.toFixed(2));
        expect(rows[i]?.[6], `pairs of row ${i}`).toBe(m.iteration === 0 ? '–' : String(m.pairs));
      }
    } finally {
      await client.connection.close();
    }
  }, 240_000);
});
