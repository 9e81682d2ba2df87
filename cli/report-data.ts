// Collects a run's report data: the live `status`/`metrics` queries when a worker answers, else the run
// summary the pipeline wrote to S3; loss curves from the training steps' manifests; options from run.json.
import type { Client } from '@temporalio/client';
import type { RlhfConfig } from '../shared/config';
import { layout, FILE } from '../shared/layout';
import { metricsQuery, statusQuery, type EvalMetrics, type IterationMetrics, type RunStatus } from '../shared/messages';
import type { ArtifactStore } from '../shared/store';
import { flattenOptions, lossCurveFrom, reportDataFromRun } from '../report/from-run';
import type { LossCurve, RunReportData } from '../report/types';
import { hasWorkflowWorker, uiUrl } from './context';
import { offlineId } from './offline-baseline';
import { CliError } from './errors';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

async function getJsonOrNull(store: ArtifactStore, key: string): Promise<unknown> {
  try {
    return await store.getJson(key);
  } catch (err) {
    if ((err as Error).name === 'ObjectNotFoundError') return null;
    throw err;
  }
}

/** Loss curves recorded by training steps: manifest meta `lossCurve` of each model (SFT, RM, iterates, offline DPO). */
export async function collectLossCurves(store: ArtifactStore, run: string, iterations: number, summary: unknown): Promise<LossCurve[]> {
  if (isObject(summary) && Array.isArray(summary.lossCurves)) {
    return summary.lossCurves.flatMap((c: unknown) => (isObject(c) && typeof c.stage === 'string' ? (lossCurveFrom(c.stage, c.points) ?? []) : []));
  }
  const stages: Array<{ stage: string; prefix: string }> = [
    { stage: 'sft', prefix: layout.model(run, 'sft') },
    { stage: 'reward-model', prefix: layout.model(run, 'reward-model') },
    ...Array.from({ length: iterations }, (_, i) => ({ stage: `iter-${String(i + 1).padStart(4, '0')}`, prefix: layout.model(run, i + 1) })),
    { stage: 'offline-dpo', prefix: layout.model(offlineId(run), 1) },
  ];
  const curves: LossCurve[] = [];
  for (const s of stages) {
    const manifest = await store.getManifest(s.prefix).catch(() => null);
    const curve = manifest ? lossCurveFrom(s.stage, manifest.meta.lossCurve) : undefined;
    if (curve) curves.push(curve);
  }
  return curves;
}

/** Baselines besides SFT found in a summary: `baselines: [{name, ...EvalMetrics}]` or `offlineDpo: EvalMetrics`. */
export function summaryBaselines(summary: unknown): { name: string; metrics: Partial<EvalMetrics> }[] {
  if (!isObject(summary)) return [];
  const out: { name: string; metrics: Partial<EvalMetrics> }[] = [];
  if (Array.isArray(summary.baselines)) {
    for (const b of summary.baselines) if (isObject(b) && typeof b.name === 'string' && !/^sft$/i.test(b.name)) out.push({ name: b.name, metrics: (isObject(b.metrics) ? b.metrics : b) as Partial<EvalMetrics> });
  } else if (isObject(summary.baselines)) {
    for (const [name, m] of Object.entries(summary.baselines)) if (isObject(m) && !/^sft$/i.test(name)) out.push({ name: name === 'offlineDpo' ? 'offline DPO' : name, metrics: m as Partial<EvalMetrics> });
  }
  if (isObject(summary.offlineDpo)) out.push({ name: 'offline DPO', metrics: summary.offlineDpo as Partial<EvalMetrics> });
  return out;
}

/** The offline-DPO baseline of a run (cli/offline-baseline.ts) from its summary in S3, when it ran. */
export async function offlineBaseline(store: ArtifactStore, run: string): Promise<{ name: string; metrics: Partial<EvalMetrics> }[]> {
  const summary = await getJsonOrNull(store, `${layout.summary(offlineId(run))}/${FILE.summary}`).catch(() => null);
  const rows = isObject(summary) && Array.isArray(summary.metrics) ? (summary.metrics as Array<Partial<EvalMetrics> & { iteration?: number }>) : [];
  const trained = rows.find((m) => m.iteration === 1);
  return trained ? [{ name: 'offline DPO', metrics: trained }] : [];
}

export interface CollectedRun {
  data: RunReportData;
  run: string;
  /** Where the numbers came from. */
  source: 'query' | 'summary';
}

export async function collectRunReport(client: Client, store: ArtifactStore, cfg: RlhfConfig, workflowId: string): Promise<CollectedRun> {
  const handle = client.workflow.getHandle(workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if ((err as Error).name === 'WorkflowNotFoundError') throw new CliError(`workflow '${workflowId}' not found in namespace '${cfg.temporal.namespace}'`);
    throw err;
  }
  let status: RunStatus | null = null;
  let metrics: IterationMetrics[] | null = null;
  // Without a worker on the workflow's queue nobody can answer: go straight to the summary in S3.
  if (await hasWorkflowWorker(client, description.taskQueue).catch(() => false)) {
    try {
      status = await client.connection.withDeadline(Date.now() + 10_000, () => handle.query(statusQuery));
      metrics = await client.connection.withDeadline(Date.now() + 10_000, () => handle.query(metricsQuery));
    } catch {
      // The worker did not answer in time (or the workflow type has no such query): use the summary.
    }
  }
  const run = status?.run ?? workflowId;
  const summary = await getJsonOrNull(store, `${layout.summary(run)}/${FILE.summary}`);
  const config = await getJsonOrNull(store, `${layout.config(run)}/${FILE.runConfig}`).catch(() => null);
  const rows = metrics ?? (isObject(summary) && Array.isArray(summary.metrics) ? (summary.metrics as IterationMetrics[]) : null);
  if (!rows) {
    throw new CliError(`no metrics for '${workflowId}': no worker answered the metrics query and ${store.uri(`${layout.summary(run)}/${FILE.summary}`)} does not exist yet`);
  }
  const options = isObject(config) ? (isObject(config.options) ? config.options : config) : isObject(summary) && isObject(summary.options) ? summary.options : undefined;
  const iterations = Math.max(0, ...rows.map((m) => m.iteration));
  // Loss curves are a nicety: a store hiccup must not cost the report.
  const lossCurves: LossCurve[] = await collectLossCurves(store, run, iterations, summary).catch(() => []);
  const task = isObject(options) && isObject(options.data) && typeof options.data.task === 'string' ? options.data.task : null;
  const data = reportDataFromRun({
    run,
    workflowId,
    uiUrl: uiUrl(cfg, workflowId),
    status: description.status.name,
    task,
    generatedAt: new Date().toISOString(),
    metrics: rows,
    baselines: [...summaryBaselines(summary), ...(await offlineBaseline(store, run))],
    lossCurves,
    ...(options ? { options: flattenOptions(options) } : {}),
  });
  return { data, run, source: metrics ? 'query' : 'summary' };
}
