// Maps what the pipeline produces — the `metrics` query rows (shared/messages.ts IterationMetrics, iteration 0 =
// the SFT model), extra baselines (offline DPO), and loss curves — onto RunReportData. Pure.
import type { EvalMetrics, IterationMetrics as RunIterationMetrics } from '../shared/messages';
import type { BaselineMetrics, IterationMetrics, LossCurve, PolicyMetrics, RunReportData } from './types';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function policyMetrics(m: Partial<EvalMetrics>): PolicyMetrics {
  return { goldScore: num(m.gold), reward: num(m.meanReward), winRate: num(m.winRateVsSft), kl: num(m.kl), length: num(m.meanResponseLength) };
}

export interface RunFacts {
  run: string;
  workflowId?: string;
  uiUrl?: string;
  status?: string;
  task?: string | null;
  generatedAt?: string;
  /** Rows of the `metrics` query or of the run summary (iteration 0 = SFT). */
  metrics: Array<Partial<RunIterationMetrics> & { iteration: number }>;
  /** Extra baselines evaluated on the same prompts, e.g. { name: 'offline DPO', metrics }. */
  baselines?: { name: string; metrics: Partial<EvalMetrics> }[];
  lossCurves?: LossCurve[];
  options?: RunReportData['options'];
}

export function reportDataFromRun(f: RunFacts): RunReportData {
  const sft = f.metrics.find((m) => m.iteration === 0);
  const baselines: BaselineMetrics[] = [
    ...(sft ? [{ name: 'SFT', ...policyMetrics(sft) }] : []),
    ...(f.baselines ?? []).map((b) => ({ name: b.name, ...policyMetrics(b.metrics) })),
  ];
  const iterations: IterationMetrics[] = f.metrics
    .filter((m) => m.iteration > 0)
    .sort((a, b) => a.iteration - b.iteration)
    .map((m) => ({ iteration: m.iteration, ...policyMetrics(m), pairs: num(m.pairs), margin: null, dpoLoss: num(m.trainLoss) }));
  return {
    run: f.run,
    ...(f.workflowId ? { workflowId: f.workflowId } : {}),
    ...(f.uiUrl ? { uiUrl: f.uiUrl } : {}),
    ...(f.status ? { status: f.status } : {}),
    ...(f.task ? { task: f.task } : {}),
    ...(f.generatedAt ? { generatedAt: f.generatedAt } : {}),
    ...(f.options ? { options: f.options } : {}),
    iterations,
    baselines,
    lossCurves: f.lossCurves ?? [],
  };
}

/** A loss curve from whatever a training step recorded: [{step, loss, lr?}] (engine TrainResult.lossCurve). */
export function lossCurveFrom(stage: string, raw: unknown): LossCurve | undefined {
  if (!Array.isArray(raw)) return undefined;
  const points = raw
    .filter((p): p is { step: number; loss: number; lr?: number } => typeof p === 'object' && p !== null && num((p as { step?: unknown }).step) !== null && num((p as { loss?: unknown }).loss) !== null)
    .map((p) => ({ step: p.step, loss: p.loss, ...(num(p.lr) !== null ? { lr: p.lr as number } : {}) }));
  return points.length > 0 ? { stage, points } : undefined;
}

/** Flattens nested options to "a.b.c" → scalar (lists as JSON) for the report's options table. */
export function flattenOptions(value: unknown, path = '', out: Record<string, string | number | boolean | null> = {}): Record<string, string | number | boolean | null> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenOptions(v, path ? `${path}.${k}` : k, out);
  } else if (Array.isArray(value)) out[path] = JSON.stringify(value);
  else if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[path] = value;
  return out;
}
