// `durable-rlhf demo` (npm run demo): the whole recipe on the sort-digits task, on this machine.
//   1. bring up the local stack if needed (Temporal dev server + S3 gateway),
//   2. run an all-in-one worker in this process (rlhf-control, rlhf-inference, rlhf-train),
//   3. start rlhfPipeline with the demo options and show live progress from its status query,
//   4. print the per-iteration table next to the SFT and offline-DPO baselines, write the HTML report,
//      and print the report path and the run's Web UI address.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { layout } from '../../shared/layout';
import { metricsQuery, statusQuery, type EvalMetrics } from '../../shared/messages';
import { renderRunReport } from '../../report/run-report';
import type { CommandSpec, ParsedArgs } from '../args';
import { uiUrl, withClient, type Io } from '../context';
import { CliError, oneLine } from '../errors';
import { renderResults, renderStatus, resultRows } from '../format';
import { LiveView } from '../live';
import { collectRunReport, summaryBaselines } from '../report-data';
import { defaultReportPath } from './inspect';
import { optionsFromArgs, startPipeline } from './run';

export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'Run the whole recipe on the demo task locally: stack, in-process worker, pipeline, live progress, results table and HTML report.',
  usage: 'durable-rlhf demo [--set KEY=VALUE ...] [--config FILE] [--id ID] [--interval SECONDS]',
  positionals: [0, 0],
  flags: {
    config: { kind: 'string', value: 'FILE', help: 'recipe options file (default: the demo defaults)' },
    set: { kind: 'list', value: 'KEY=VALUE', help: 'override one option, e.g. --set online.iterations=3' },
    id: { kind: 'string', value: 'ID', help: 'workflow id (default demo-<utc time>)' },
    interval: { kind: 'int', value: 'SECONDS', help: 'progress refresh period (default 2; non-TTY output prints a line on change or every 30 s)' },
  },
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The final table's baselines besides SFT, from the pipeline result (e.g. `{ baselines: { offlineDpo } }`). */
export function baselinesFromResult(result: unknown): { name: string; metrics: EvalMetrics }[] {
  return summaryBaselines(result) as { name: string; metrics: EvalMetrics }[];
}

export async function demoCommand(args: ParsedArgs, io: Io): Promise<void> {
  const { input, recipe } = await optionsFromArgs(args);
  const id = (args.flags.id as string | undefined) ?? `demo-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  const intervalMs = ((args.flags.interval as number | undefined) ?? 2) * 1000;

  io.out('▶ local stack');
  const stack = await import('../../scripts/stack');
  const info = await stack.stackUp(stack.stackOptions());
  for (const line of stack.describeStack(info)) io.out(`  ${line}`);
  // Point this process (config, client, workers) at the stack unless the user chose other endpoints.
  for (const [k, v] of Object.entries(stack.stackEnv(info))) process.env[k] ??= v;

  const { loadConfig } = await import('../../shared/config');
  const cfg = loadConfig();
  const { ArtifactStore } = await import('../../shared/store');
  const store = ArtifactStore.fromConfig(cfg);
  await store.ensureBucket();

  io.out('▶ worker (all queues, in this process)');
  const { createWorkers } = await import('../../workers/main');
  const workers = await createWorkers({ config: cfg, store });
  const workersDone = workers.run();
  let workerError: unknown = null;
  workersDone.catch((err: unknown) => {
    workerError = err;
  });
  const stopWorkers = async (): Promise<void> => {
    workers.shutdown();
    await workersDone.catch(() => undefined);
  };
  const onSignal = (): void => {
    io.err(`\ninterrupted: the run ${id} is durable; continue it with \`durable-rlhf worker\` and \`durable-rlhf watch ${id}\``);
    void stopWorkers().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    await withClient(async (client) => {
      io.out(`▶ pipeline ${id} (task ${recipe.data.task}, ${recipe.online.iterations} iterations × ${recipe.online.promptsPerIteration} prompts, K=${recipe.online.k})`);
      io.out(`  UI: ${uiUrl(cfg, id)}`);
      const { handle, started } = await startPipeline(client, recipe, input, { workflowId: id, summary: `durable-rlhf demo ${id}` });
      if (!started) io.out(`  ${id} was already running: following it`);
      const view = new LiveView(io.stdout, 30_000);
      let result: unknown;
      let failure: unknown = null;
      let finished = false;
      const outcome = handle.result().then(
        (r: unknown) => {
          result = r;
          finished = true;
        },
        (err: unknown) => {
          failure = err;
          finished = true;
        },
      );
      while (!finished) {
        if (workerError) throw new CliError(`worker stopped: ${oneLine(workerError)}`);
        try {
          const [status, metrics] = await client.connection.withDeadline(Date.now() + 10_000, () => Promise.all([handle.query(statusQuery), handle.query(metricsQuery)]));
          view.update([...renderStatus(status), '', ...renderResults(resultRows(metrics))]);
        } catch (err) {
          view.update([`waiting for ${id}: ${oneLine(err)}`]);
        }
        await Promise.race([outcome, sleep(intervalMs)]);
      }
      view.release();
      if (failure) throw new CliError(`${id} failed: ${oneLine((failure as { cause?: unknown }).cause ?? failure)} (details: ${uiUrl(cfg, id)})`);

      const metrics = await client.connection.withDeadline(Date.now() + 15_000, () => handle.query(metricsQuery));
      io.out('');
      io.out(`■ results on ${recipe.evaluation.prompts} held-out prompts (same budget for every policy)`);
      const baselines = baselinesFromResult(result);
      for (const line of renderResults(resultRows(metrics, baselines))) io.out(`  ${line}`);
      if (baselines.length === 0) io.out('  (offline DPO baseline not reported by this pipeline version)');

      const collected = await collectRunReport(client, store, cfg, id);
      if (collected.data.baselines.length <= 1 && baselines.length > 0) {
        collected.data.baselines.push(...baselines.map((b) => ({ name: b.name, goldScore: b.metrics.gold, reward: b.metrics.meanReward, winRate: b.metrics.winRateVsSft, kl: b.metrics.kl, length: b.metrics.meanResponseLength })));
      }
      const html = renderRunReport(collected.data);
      const path = defaultReportPath(id);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, html);
      const key = `${layout.report(collected.run)}/index.html`;
      await store.putBytes(key, html, 'text/html; charset=utf-8');
      io.out('');
      io.out(`report: ${path}`);
      io.out(`        ${store.uri(key)}`);
      io.out(`UI:     ${uiUrl(cfg, id)}`);
      io.out('the stack keeps running (durable-rlhf services down stops it)');
    }, cfg);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopWorkers();
  }
}
