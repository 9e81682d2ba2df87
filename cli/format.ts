// Text rendering for the terminal: progress bars, the run status block and the per-iteration table.
// Pure functions (strings in, strings out) so they are unit-tested without a server.
import type { EvalMetrics, IterationMetrics, RunStatus, StageName } from '../shared/messages';

/** `[██████░░░░░░]` */
export function progressBar(done: number, total: number, width = 20): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(frac * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

/** Pipeline stages in order, as shown in the status block. */
export const PIPELINE_STAGES: StageName[] = ['prepare-data', 'base-model', 'sft', 'reward-model', 'evaluate-sft', 'online-dpo', 'summary'];

export function stageLine(stage: StageName): string {
  const at = PIPELINE_STAGES.indexOf(stage);
  const finished = stage === 'completed' || stage === 'stopped';
  return PIPELINE_STAGES.map((s, i) => {
    if (finished || (at >= 0 && i < at)) return `✓ ${s}`;
    if (i === at) return `▶ ${s}`;
    return `· ${s}`;
  }).join('  ');
}

const fixed = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const percent = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(1)}%`);

/** The status block: one headline, the stage line, iteration and shard progress. */
export function renderStatus(s: RunStatus): string[] {
  const flags = [s.paused ? 'PAUSED' : '', s.stopAfterIteration !== null ? `stops after iteration ${s.stopAfterIteration}` : ''].filter(Boolean);
  const lines = [`run ${s.run} · ${s.stage}${flags.length ? ` · ${flags.join(' · ')}` : ''}`];
  if (s.stage !== 'failed') lines.push(`  stages     ${stageLine(s.stage)}`);
  if (s.iterations > 0) {
    const completed = s.stage === 'completed' || s.stage === 'summary' ? s.iterations : Math.max(0, s.iteration - (s.step === 'done' ? 0 : 1));
    lines.push(`  iterations ${progressBar(completed, s.iterations)} ${completed}/${s.iterations}${s.iteration > 0 && s.step ? `   now: iteration ${s.iteration} · ${s.step}` : ''}`);
  }
  if (s.shards && s.shards.total > 0) lines.push(`  shards     ${progressBar(s.shards.done, s.shards.total)} ${s.shards.done}/${s.shards.total} (${s.shards.step})`);
  if (s.pendingOptions) lines.push(`  pending    ${JSON.stringify(s.pendingOptions)} (from the next iteration)`);
  if (s.activeChild) lines.push(`  child      ${s.activeChild}`);
  return lines;
}

/** A row of the results table: a policy and its held-out evaluation. */
export interface ResultRow {
  policy: string;
  gold: number | null;
  reward: number | null;
  winRate: number | null;
  length: number | null;
  kl: number | null;
}

export function rowFromEval(policy: string, m: Partial<EvalMetrics>): ResultRow {
  return { policy, gold: m.gold ?? null, reward: m.meanReward ?? null, winRate: m.winRateVsSft ?? null, length: m.meanResponseLength ?? null, kl: m.kl ?? null };
}

/** Rows: the SFT model (iteration 0), any extra baselines (offline DPO), then the online iterates. */
export function resultRows(metrics: IterationMetrics[], baselines: { name: string; metrics: Partial<EvalMetrics> }[] = []): ResultRow[] {
  const sft = metrics.find((m) => m.iteration === 0);
  return [
    ...(sft ? [rowFromEval('SFT (baseline)', sft)] : []),
    ...baselines.map((b) => rowFromEval(`${b.name} (baseline)`, b.metrics)),
    ...metrics.filter((m) => m.iteration > 0).sort((a, b) => a.iteration - b.iteration).map((m) => rowFromEval(`online DPO iter ${m.iteration}`, m)),
  ];
}

/** A fixed-width table with a header rule; numbers right-aligned. */
export function renderTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)];
}

export function renderResults(rows: ResultRow[]): string[] {
  if (rows.length === 0) return ['(no evaluations yet)'];
  return renderTable(
    ['policy', 'gold', 'RM reward', 'win vs SFT', 'length', 'KL'],
    rows.map((r) => [r.policy, fixed(r.gold), fixed(r.reward), percent(r.winRate), fixed(r.length, 1), fixed(r.kl)]),
  );
}

/** Web UI address of a workflow. */
export function workflowUiUrl(uiBase: string, namespace: string, workflowId: string): string {
  return `${uiBase.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
