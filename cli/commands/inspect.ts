// `list`, `status`, `watch`, `report`: read a run (or a sweep) without changing it.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Client, WorkflowExecutionDescription, WorkflowExecutionInfo, WorkflowHandle } from '@temporalio/client';
import { FILE, layout } from '../../shared/layout';
import type { IterationMetrics } from '../../shared/messages';
import { RlhfBestReward, RlhfIteration, RlhfStage, RlhfSweep } from '../../shared/search-attributes';
import { ArtifactStore } from '../../shared/store';
import { renderRunReport } from '../../report/run-report';
import { renderSweepReport } from '../../report/sweep-report';
import type { SweepRun } from '../../report/types';
import type { CommandSpec, ParsedArgs } from '../args';
import { existingHandle, hasWorkflowWorker, PIPELINE_WORKFLOW, queryMetrics, queryStatus, requireWorker, uiUrl, withClient, type Io } from '../context';
import { CliError, UsageError } from '../errors';
import { renderResults, renderStatus, renderTable, resultRows } from '../format';
import { LiveView } from '../live';
import { collectRunReport, offlineBaseline } from '../report-data';

export const listSpec: CommandSpec = {
  name: 'list',
  summary: 'List pipeline runs (newest first), optionally those of one sweep (search attribute RlhfSweep).',
  usage: 'durable-rlhf list [--sweep ID] [--running] [--limit N]',
  positionals: [0, 0],
  flags: {
    sweep: { kind: 'string', value: 'ID', help: 'only runs of this sweep' },
    running: { kind: 'boolean', help: 'only running workflows' },
    limit: { kind: 'int', value: 'N', help: 'at most N rows (default 50)' },
  },
};

export const statusSpec: CommandSpec = {
  name: 'status',
  summary: 'Show where a run is (stage, iteration, shard progress) and its per-iteration table.',
  usage: 'durable-rlhf status <workflow-id>',
  positionals: [1, 1],
  flags: {},
};

export const watchSpec: CommandSpec = {
  name: 'watch',
  summary: 'Follow a run live until it closes (redraws in a terminal; periodic lines otherwise).',
  usage: 'durable-rlhf watch <workflow-id> [--interval SECONDS]',
  positionals: [1, 1],
  flags: { interval: { kind: 'int', value: 'SECONDS', help: 'refresh period (default 2)' } },
};

export const reportSpec: CommandSpec = {
  name: 'report',
  summary: 'Write the HTML report of a run (or of a sweep) locally and to S3 next to the run (runs/<run>/report/index.html).',
  usage: 'durable-rlhf report <workflow-id> [--out FILE] [--no-upload]  |  durable-rlhf report --sweep ID [--out FILE]',
  positionals: [0, 1],
  flags: {
    sweep: { kind: 'string', value: 'ID', help: 'report comparing the runs of a sweep' },
    out: { kind: 'string', value: 'FILE', help: 'local HTML file (default .artifacts/reports/<id>.html)' },
    'no-upload': { kind: 'boolean', help: 'do not upload the report to S3' },
  },
};

/** Visibility query of the pipeline runs, optionally one sweep's. */
export function listQuery(opts: { sweep?: string; running?: boolean }): string {
  const quote = (v: string): string => `'${v.replace(/'/g, "\\'")}'`;
  return [`WorkflowType = ${quote(PIPELINE_WORKFLOW)}`, opts.sweep ? `${RlhfSweep.name} = ${quote(opts.sweep)}` : '', opts.running ? `ExecutionStatus = 'Running'` : '']
    .filter(Boolean)
    .join(' AND ');
}

export async function listRuns(client: Client, query: string, limit: number): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    out.push(info);
    if (out.length >= limit) break;
  }
  return out;
}

export async function listCommand(args: ParsedArgs, io: Io): Promise<void> {
  const sweep = args.flags.sweep as string | undefined;
  const query = listQuery({ ...(sweep ? { sweep } : {}), running: Boolean(args.flags.running) });
  const limit = (args.flags.limit as number | undefined) ?? 50;
  await withClient(async (client) => {
    const runs = await listRuns(client, query, limit);
    if (runs.length === 0) {
      io.out(`no runs match ${query}`);
      return;
    }
    const rows = runs.map((r) => {
      const sa = r.typedSearchAttributes;
      const iteration = sa.get(RlhfIteration);
      const best = sa.get(RlhfBestReward);
      return [r.workflowId, r.status.name, r.startTime.toISOString().replace('T', ' ').slice(0, 19), sa.get(RlhfStage) ?? '—', iteration === undefined ? '—' : String(iteration), best === undefined ? '—' : best.toFixed(3), sa.get(RlhfSweep) ?? ''];
    });
    for (const line of renderTable(['workflow id', 'status', 'started (UTC)', 'stage', 'iter', 'best reward', 'sweep'], rows)) io.out(line);
  });
}

export async function statusCommand(args: ParsedArgs, io: Io): Promise<void> {
  const id = args.positionals[0] as string;
  await withClient(async (client, cfg) => {
    const handle = await existingHandle(client, id);
    const description = await handle.describe();
    io.out(`${id}: ${description.status.name} (started ${description.startTime.toISOString()})`);
    if (await hasWorkflowWorker(client, description.taskQueue)) {
      const status = await queryStatus(client, handle);
      const metrics = await queryMetrics(client, handle);
      for (const line of renderStatus(status)) io.out(line);
      io.out('');
      for (const line of renderResults(resultRows(metrics))) io.out(line);
    } else {
      // No worker to answer queries: a finished run still has its summary in S3.
      const store = ArtifactStore.fromConfig(cfg);
      const summary = await store.getJson<{ metrics?: IterationMetrics[] }>(`${layout.summary(id)}/${FILE.summary}`).catch(() => null);
      if (!summary?.metrics) await requireWorker(client, handle);
      io.out(`(from the run summary ${store.uri(layout.summary(id))}/; no worker polls '${description.taskQueue}' for live status)`);
      io.out('');
      for (const line of renderResults(resultRows(summary?.metrics ?? [], await offlineBaseline(store, id)))) io.out(line);
    }
    io.out('');
    io.out(`UI: ${uiUrl(cfg, id)}`);
  });
}

/** The block `watch` shows: status and table from the queries, or why they cannot be answered. */
async function watchLines(client: Client, handle: WorkflowHandle, description: WorkflowExecutionDescription): Promise<string[]> {
  const head = `${handle.workflowId}: ${description.status.name}`;
  if (!(await hasWorkflowWorker(client, description.taskQueue))) {
    return [`${head} · no worker polls task queue '${description.taskQueue}' (start one with \`durable-rlhf worker\`)`];
  }
  try {
    const status = await queryStatus(client, handle, 10_000);
    const metrics = await queryMetrics(client, handle, 10_000);
    return [...renderStatus(status), '', ...renderResults(resultRows(metrics))];
  } catch (err) {
    return [`${head} · ${(err as Error).message}`];
  }
}

/** Exit code 0 when the run completed, 1 when it failed, was terminated, cancelled or timed out. */
export async function watchCommand(args: ParsedArgs, io: Io): Promise<number> {
  const id = args.positionals[0] as string;
  const intervalMs = ((args.flags.interval as number | undefined) ?? 2) * 1000;
  return withClient(async (client, cfg) => {
    const handle = await existingHandle(client, id);
    const view = new LiveView(io.stdout, 30_000);
    io.out(`watching ${id} (Ctrl-C stops watching; the run goes on) · UI: ${uiUrl(cfg, id)}`);
    for (;;) {
      const description = await handle.describe();
      const closed = description.status.name !== 'RUNNING';
      view.update(await watchLines(client, handle, description));
      if (closed) {
        view.release();
        io.out(`${id} ${description.status.name.toLowerCase()}`);
        return description.status.name === 'COMPLETED' ? 0 : 1;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  });
}

/** Each run's grid point: the options whose values differ between the runs of the sweep. */
export function sweepPoints(runs: Array<{ workflowId: string; data: SweepRun['data'] }>): SweepRun[] {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.data.options ?? {})))];
  const varying = keys.filter((k) => new Set(runs.map((r) => JSON.stringify(r.data.options?.[k] ?? null))).size > 1 && !/^models\.|Uri$|taskQueues/.test(k));
  return runs.map((r) => ({
    workflowId: r.workflowId,
    data: r.data,
    point: Object.fromEntries(varying.map((k) => [k, (r.data.options?.[k] ?? 'default') as string | number | boolean])),
  }));
}

/** `.artifacts/reports/<id>.html` with '/' in ids flattened. */
export function defaultReportPath(id: string): string {
  return resolve('.artifacts', 'reports', `${id.replace(/[/\\]/g, '__')}.html`);
}

export async function reportCommand(args: ParsedArgs, io: Io): Promise<void> {
  const sweep = args.flags.sweep as string | undefined;
  const id = args.positionals[0];
  if (!sweep && !id) throw new UsageError(`'report' needs a workflow id or --sweep ID: usage: ${reportSpec.usage}`);
  if (sweep && id) throw new UsageError(`'report' takes a workflow id or --sweep ID, not both`);
  await withClient(async (client, cfg) => {
    const store = ArtifactStore.fromConfig(cfg);
    let html: string;
    let key: string | null = null;
    let name: string;
    if (sweep) {
      const infos = await listRuns(client, listQuery({ sweep }), 1000);
      if (infos.length === 0) throw new CliError(`no runs found for sweep '${sweep}'`);
      infos.sort((a, b) => a.workflowId.localeCompare(b.workflowId, undefined, { numeric: true }));
      const collected: Array<{ workflowId: string; data: SweepRun['data'] }> = [];
      for (const info of infos) {
        try {
          collected.push({ workflowId: info.workflowId, data: (await collectRunReport(client, store, cfg, info.workflowId)).data });
        } catch (err) {
          io.err(`skipping ${info.workflowId}: ${(err as Error).message}`);
        }
      }
      const runs: SweepRun[] = sweepPoints(collected);
      html = renderSweepReport({ sweepId: sweep, generatedAt: new Date().toISOString(), runs });
      name = `sweep-${sweep}`;
      key = `sweeps/${sweep}/report/index.html`;
    } else {
      const collected = await collectRunReport(client, store, cfg, id as string);
      html = renderRunReport(collected.data);
      name = id as string;
      key = `${layout.report(collected.run)}/index.html`;
    }
    const out = resolve((args.flags.out as string | undefined) ?? defaultReportPath(name));
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, html);
    io.out(`report written to ${out}`);
    if (!args.flags['no-upload'] && key) {
      await store.putBytes(key, html, 'text/html; charset=utf-8');
      io.out(`uploaded to ${store.uri(key)}`);
    }
  });
}
