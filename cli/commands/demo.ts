// `durable-rlhf demo` (npm run demo): the whole recipe on the sort-digits task, on this machine.
//   1. bring up the local stack if needed (Temporal dev server + S3 gateway),
//   2. run an all-in-one worker in this process (rlhf-control, rlhf-inference, rlhf-train),
//   3. start rlhfPipeline with the demo options and show live progress from its status query,
//   4. print the per-iteration table next to the SFT and offline-DPO baselines, write the HTML report,
//      and print the report path and the run's Web UI address.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { layout } from '../../shared/layout';
import { metricsQuery, statusQuery, type EvalMetrics, type IterationMetrics, type RunStatus } from '../../shared/messages';
import { renderRunReport } from '../../report/run-report';
import type { CommandSpec, ParsedArgs } from '../args';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { uiUrl, withClient, type Io } from '../context';
import { CliError, failureChain, oneLine } from '../errors';
import { progressBar, renderResults, renderStatus, resultRows } from '../format';
import { LiveView } from '../live';
import { offlineBaselineInput, offlineId } from '../offline-baseline';
import { validateRecipe } from '../recipe-options';
import { collectRunReport } from '../report-data';
import { defaultReportPath } from './inspect';
import { optionsFromArgs, startPipeline } from './run';

export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'Run the whole recipe on the demo task locally: stack, in-process worker, pipeline + offline-DPO baseline, live progress, results table, HTML report.',
  usage: 'durable-rlhf demo [--set KEY=VALUE ...] [--config FILE] [--id ID] [--no-baseline] [--interval SECONDS]',
  positionals: [0, 0],
  flags: {
    config: { kind: 'string', value: 'FILE', help: 'recipe options file (default: the demo defaults)' },
    set: { kind: 'list', value: 'KEY=VALUE', help: 'override one option, e.g. --set online.iterations=3' },
    id: { kind: 'string', value: 'ID', help: 'workflow id (default demo-<utc time>)' },
    'no-baseline': { kind: 'boolean', help: 'skip the offline-DPO baseline run' },
    interval: { kind: 'int', value: 'SECONDS', help: 'progress refresh period (default 2; without a TTY a line is printed on change or every 30 s)' },
  },
  details:
    'Without TEMPORAL_ADDRESS / S3_ENDPOINT in the environment the local stack is started (or reused); with them, those services are used.\n' +
    'The offline-DPO baseline is a second rlhfPipeline run, <id>/offline-dpo, started once the SFT and reward models exist:\n' +
    'one DPO round on all T×N prompts with pairs sampled once from the SFT model (same prompts, epochs and eval prompts).',
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A started workflow whose result is collected in the background. */
interface Tracked {
  handle: WorkflowHandle;
  done: boolean;
  result: unknown;
  failure: unknown;
  outcome: Promise<void>;
}

function track(handle: WorkflowHandle): Tracked {
  const t: Tracked = { handle, done: false, result: undefined, failure: null, outcome: Promise.resolve() };
  t.outcome = handle.result().then(
    (r: unknown) => {
      t.result = r;
      t.done = true;
    },
    (err: unknown) => {
      t.failure = err;
      t.done = true;
    },
  );
  return t;
}

async function snapshot(client: Client, handle: WorkflowHandle): Promise<{ status: RunStatus; metrics: IterationMetrics[] }> {
  const [status, metrics] = await client.connection.withDeadline(Date.now() + 10_000, () => Promise.all([handle.query(statusQuery), handle.query(metricsQuery)]));
  return { status, metrics };
}

/** One line for the baseline run: stage and shard progress. */
export function baselineLine(s: RunStatus | null, note = ''): string {
  if (!s) return `offline DPO baseline: ${note || 'waiting for the SFT and reward models'}`;
  const shards = s.shards && s.shards.total > 0 ? ` ${progressBar(s.shards.done, s.shards.total, 12)} ${s.shards.done}/${s.shards.total} ${s.shards.step}` : '';
  return `offline DPO baseline: ${s.stage}${s.step ? ` · ${s.step}` : ''}${shards}`;
}

const failureText = failureChain;

/** The offline baseline's trained row (iteration 1) from its result's metrics. */
export function offlineRow(result: unknown): { name: string; metrics: EvalMetrics }[] {
  const metrics = (result as { metrics?: IterationMetrics[] } | null)?.metrics;
  const trained = Array.isArray(metrics) ? metrics.find((m) => m.iteration === 1) : undefined;
  return trained ? [{ name: 'offline DPO', metrics: trained }] : [];
}

export async function demoCommand(args: ParsedArgs, io: Io): Promise<void> {
  const { input, recipe } = await optionsFromArgs(args);
  const id = (args.flags.id as string | undefined) ?? `demo-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  const intervalMs = ((args.flags.interval as number | undefined) ?? 2) * 1000;
  const withBaseline = !args.flags['no-baseline'];

  const { loadConfig, SOLE_WORKER_ENV } = await import('../../shared/config');
  if (process.env.TEMPORAL_ADDRESS || process.env.S3_ENDPOINT) {
    // The user points at their own services: use them as they are.
    io.out(`▶ services from the environment: Temporal ${process.env.TEMPORAL_ADDRESS ?? '(default)'}, S3 ${process.env.S3_ENDPOINT ?? '(default)'}`);
  } else {
    io.out('▶ local stack');
    const stack = await import('../../scripts/stack');
    const info = await stack.stackUp(stack.stackOptions());
    for (const line of stack.describeStack(info)) io.out(`  ${line}`);
    // Point this process (config, client, workers) at the stack.
    for (const [k, v] of Object.entries(stack.stackEnv(info))) process.env[k] ??= v;
    // This process is the only worker on the stack it started: it may hold the next inference task.
    for (const [k, v] of Object.entries(SOLE_WORKER_ENV)) process.env[k] ??= v;
  }

  const cfg = loadConfig();
  const { ArtifactStore } = await import('../../shared/store');
  const store = ArtifactStore.fromConfig(cfg);
  await store.ensureBucket();

  const held = cfg.worker.inferencePrefetch > 0 ? `, holding ${cfg.worker.inferencePrefetch} more inference task(s) than it runs` : '';
  io.out(`▶ worker (rlhf-control, rlhf-inference, rlhf-train in this process${held})`);
  const { createWorkers } = await import('../../workers/main');
  const { DefaultLogger, Runtime } = await import('@temporalio/worker');
  try {
    // Worker lifecycle and bundler INFO lines would bury the progress view.
    // Activity-only queues poll no workflows by design: drop that notice too.
    const base = new DefaultLogger(process.env.DURABLE_RLHF_DEBUG ? 'INFO' : 'WARN');
    Runtime.install({
      logger: new DefaultLogger(process.env.DURABLE_RLHF_DEBUG ? 'INFO' : 'WARN', (entry) => {
        if (!entry.message.startsWith('No workflows registered')) base.log(entry.level, entry.message, entry.meta);
      }),
    });
  } catch {
    // A runtime was installed already (embedding process): keep its logger.
  }
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
    io.err(`\ninterrupted: the run ${id} is durable; continue it with \`durable-rlhf worker\` and follow it with \`durable-rlhf watch ${id}\``);
    void stopWorkers().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    await withClient(async (client) => {
      const o = recipe.online;
      io.out(`▶ pipeline ${id}: task ${recipe.data.task}, T=${o.iterations} iterations × ${o.promptsPerIteration} prompts, K=${o.k}, β=${o.beta}`);
      io.out(`  UI: ${uiUrl(cfg, id)}`);
      const main = track((await startPipeline(client, recipe, input, { workflowId: id, summary: `durable-rlhf demo ${id}` })).handle);
      let baseline: Tracked | null = null;
      let baselineNote = withBaseline ? '' : 'skipped (--no-baseline)';
      const startBaseline = async (models: { sft: string | null; reward: string | null }): Promise<void> => {
        if (!withBaseline || baseline || !models.sft || !models.reward) return;
        const offlineInput = offlineBaselineInput(input, recipe, { sft: models.sft, reward: models.reward }, cfg.s3.bucket);
        const baselineRecipe = validateRecipe(offlineInput, 'offline baseline options');
        const started = await startPipeline(client, baselineRecipe, offlineInput, {
          workflowId: offlineId(id),
          summary: `durable-rlhf demo ${id}: offline-DPO baseline (pairs from the SFT model, ${o.iterations * o.promptsPerIteration} prompts at once)`,
        });
        baseline = track(started.handle);
      };

      const view = new LiveView(io.stdout, 30_000);
      // A run that ends between two refreshes still gets its baseline: the loop goes on until it is started.
      while (!main.done || (withBaseline && baseline === null) || (baseline !== null && !(baseline as Tracked).done)) {
        if (workerError) throw new CliError(`worker stopped: ${oneLine(workerError)}`);
        const lines: string[] = [];
        try {
          const now = await snapshot(client, main.handle);
          lines.push(...renderStatus(now.status), '', ...renderResults(resultRows(now.metrics)));
          await startBaseline(now.status.models);
        } catch (err) {
          lines.push(main.done ? `${id}: finished` : `waiting for ${id}: ${oneLine(err)}`);
        }
        if (main.done && main.failure) break;
        if (main.done && !baseline) {
          const models = (main.result as { models?: { sft?: string; reward?: string } } | undefined)?.models;
          await startBaseline({ sft: models?.sft ?? null, reward: models?.reward ?? null });
          if (!baseline) break;
        }
        let bStatus: RunStatus | null = null;
        if (baseline) {
          const b: Tracked = baseline;
          if (b.done) baselineNote = b.failure ? `failed: ${failureText(b.failure)}` : 'done';
          else bStatus = await snapshot(client, b.handle).then((x) => x.status, () => null);
        }
        lines.push('', baselineLine(bStatus, baselineNote || (baseline ? 'starting' : '')));
        view.update(lines);
        await Promise.race([main.outcome, (baseline as Tracked | null)?.outcome ?? main.outcome, sleep(intervalMs)]);
      }
      view.release();
      if (main.failure) throw new CliError(`${id} failed: ${failureText(main.failure)} (details: ${uiUrl(cfg, id)})`);

      const metrics = ((main.result as { metrics?: IterationMetrics[] }).metrics ?? []) as IterationMetrics[];
      const b = baseline as Tracked | null;
      const baselines = b && !b.failure ? offlineRow(b.result) : [];
      io.out('');
      io.out(`■ results on ${recipe.evaluation.prompts} held-out prompts (gold = exact grader of ${recipe.data.task}; win rate and reward from the RM)`);
      for (const line of renderResults(resultRows(metrics, baselines))) io.out(`  ${line}`);
      if (b?.failure) io.out(`  offline DPO baseline failed: ${failureText(b.failure)} (${uiUrl(cfg, offlineId(id))})`);
      else if (!withBaseline) io.out('  (offline DPO baseline skipped)');

      const collected = await collectRunReport(client, store, cfg, id);
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
      if (b) io.out(`        ${uiUrl(cfg, offlineId(id))} (offline-DPO baseline)`);
      io.out('the services keep running (`durable-rlhf services down` stops the local stack)');
    }, cfg);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopWorkers();
  }
}
