// The per-run HTML report: the iteration table (online DPO vs the SFT and offline-DPO baselines), charts of
// gold score, RM reward, win rate, KL and length per iteration, and the loss curve of every training stage.
import { escapeHtml, formatNumber, formatPercent, page, table } from './html';
import { lineChart, smooth, type ReferenceLine, type Series } from './svg';
import type { BaselineMetrics, IterationMetrics, LossCurve, PolicyMetrics, RunReportData } from './types';

export type MetricKey = keyof PolicyMetrics;

export const METRICS: { key: MetricKey; title: string; yLabel: string; yInclude?: number[] }[] = [
  { key: 'goldScore', title: 'Gold score (held-out)', yLabel: 'mean gold score', yInclude: [0, 1] },
  { key: 'reward', title: 'RM reward (held-out)', yLabel: 'mean reward' },
  { key: 'winRate', title: 'Win rate vs SFT (RM judge)', yLabel: 'win rate', yInclude: [0, 1] },
  { key: 'kl', title: 'KL(π‖π_ref) estimate', yLabel: 'nats', yInclude: [0] },
  { key: 'length', title: 'Mean response length', yLabel: 'characters' },
];

const value = (v: number | null | undefined): number => (v === null || v === undefined ? Number.NaN : v);

/** The SFT model as iteration 0 of the online curve (π0), when it was evaluated. */
export function sftBaseline(data: RunReportData): BaselineMetrics | undefined {
  return data.baselines.find((b) => /^sft$/i.test(b.name));
}

/** Online-DPO series of one metric, starting at the SFT model (iteration 0). */
export function metricSeries(data: RunReportData, key: MetricKey, name = 'online DPO'): Series {
  const sft = sftBaseline(data);
  const points: [number, number][] = sft ? [[0, value(sft[key])]] : [];
  for (const it of data.iterations) points.push([it.iteration, value(it[key])]);
  return { name, points };
}

function metricCells(m: PolicyMetrics): string[] {
  return [formatNumber(m.goldScore), formatNumber(m.reward), formatPercent(m.winRate), formatNumber(m.kl), formatNumber(m.length, 1)];
}

/** Index of the iteration with the best gold score (else reward); -1 when none was measured. */
export function bestIteration(iterations: IterationMetrics[]): number {
  const key: MetricKey = iterations.some((i) => i.goldScore !== null) ? 'goldScore' : 'reward';
  let best = -1;
  iterations.forEach((it, i) => {
    const v = it[key];
    if (v !== null && (best < 0 || v > (iterations[best]![key] as number))) best = i;
  });
  return best;
}

export function iterationTable(data: RunReportData): string {
  const best = bestIteration(data.iterations);
  // Training facts of the iterations; a column nobody reported is left out.
  const extras = (
    [
      ['pairs', (it: IterationMetrics) => formatNumber(it.pairs ?? null, 0)],
      ['margin', (it: IterationMetrics) => formatNumber(it.margin ?? null)],
      ['DPO loss', (it: IterationMetrics) => formatNumber(it.dpoLoss ?? null)],
    ] as const
  ).filter(([name]) => data.iterations.some((it) => (name === 'pairs' ? it.pairs : name === 'margin' ? it.margin : it.dpoLoss) != null));
  const rows = [
    ...data.baselines.map((b) => ({ cells: [escapeHtml(b.name), ...metricCells(b), ...extras.map(() => '—')], className: 'baseline' })),
    ...data.iterations.map((it, i) => ({
      cells: [`iteration ${it.iteration}`, ...metricCells(it), ...extras.map(([, cell]) => cell(it))],
      ...(i === best ? { className: 'best' } : {}),
    })),
  ];
  return table(['policy', 'gold score', 'RM reward', 'win rate vs SFT', 'KL', 'length', ...extras.map(([name]) => name)], rows, 'iterations');
}

/** A loss curve as chart series: dense curves (> 50 steps) as faint raw values under their moving average. */
export function lossSeries(c: LossCurve, color: number): Series[] {
  const points = c.points.map((p) => [p.step, p.loss] as [number, number]);
  const dashed = /offline/i.test(c.stage);
  if (points.length <= 50) return [{ name: c.stage, points, dashed, color }];
  return [
    { name: `${c.stage} (raw)`, points, faint: true, color },
    { name: `${c.stage} (moving avg.)`, points: smooth(points), dashed, color },
  ];
}

/** Loss curves grouped into charts: SFT, reward model, and all DPO stages (online iterations + offline). */
export function lossCharts(curves: LossCurve[], idPrefix = 'loss'): string[] {
  const groups: { id: string; title: string; match: (stage: string) => boolean }[] = [
    { id: 'sft', title: 'SFT loss (response-token cross-entropy)', match: (s) => s === 'sft' },
    { id: 'reward-model', title: 'Reward model loss (Bradley–Terry)', match: (s) => s === 'reward-model' || s === 'reward' },
    { id: 'dpo', title: 'DPO loss per iteration', match: (s) => /^iter-\d+$/.test(s) || /dpo/i.test(s) },
  ];
  const charts: string[] = [];
  const used = new Set<string>();
  for (const g of groups) {
    const members = curves.filter((c) => g.match(c.stage));
    members.forEach((c) => used.add(c.stage));
    if (members.length === 0) continue;
    charts.push(
      lineChart({
        id: `${idPrefix}-${g.id}`,
        title: g.title,
        xLabel: 'optimizer step',
        yLabel: 'loss',
        integerX: true,
        series: members.flatMap((c, i) => lossSeries(c, i)),
      }),
    );
  }
  for (const c of curves.filter((c) => !used.has(c.stage))) {
    charts.push(
      lineChart({
        id: `${idPrefix}-${c.stage.replace(/[^A-Za-z0-9_-]/g, '_')}`,
        title: `${c.stage} loss`,
        xLabel: 'optimizer step',
        yLabel: 'loss',
        integerX: true,
        series: lossSeries(c, 0),
      }),
    );
  }
  return charts;
}

function optionsTable(options: RunReportData['options']): string {
  const entries = Object.entries(options ?? {});
  if (entries.length === 0) return '';
  return `<details><summary>Options (${entries.length})</summary>\n${table(
    ['option', 'value'],
    entries.map(([k, v]) => ({ cells: [`<code>${escapeHtml(k)}</code>`, `<code>${escapeHtml(JSON.stringify(v))}</code>`] })),
    'options',
  )}\n</details>`;
}

export function renderRunReport(data: RunReportData): string {
  const metricCharts = METRICS.map((m) =>
    lineChart({
      id: `metric-${m.key}`,
      title: m.title,
      xLabel: 'iteration (0 = SFT)',
      yLabel: m.yLabel,
      integerX: true,
      series: [metricSeries(data, m.key)],
      references: data.baselines
        .filter((b) => b[m.key] !== null)
        .map((b): ReferenceLine => ({ name: b.name, y: b[m.key] as number })),
      ...(m.yInclude ? { yInclude: m.yInclude } : {}),
    }),
  );
  const losses = lossCharts(data.lossCurves);
  const meta = [
    data.workflowId ? `workflow ${data.uiUrl ? `<a href="${escapeHtml(data.uiUrl)}">${escapeHtml(data.workflowId)}</a>` : escapeHtml(data.workflowId)}` : '',
    data.status ? `status ${escapeHtml(data.status)}` : '',
    data.task ? `task ${escapeHtml(data.task)}` : '',
    data.generatedAt ? `generated ${escapeHtml(data.generatedAt)}` : '',
  ].filter((s) => s !== '');
  const body = `<h1>durable-rlhf run <code>${escapeHtml(data.run)}</code></h1>
<p class="meta">${meta.join(' · ')}</p>
<h2>Per iteration</h2>
${data.iterations.length === 0 && data.baselines.length === 0 ? '<p class="note">No evaluation yet.</p>' : iterationTable(data)}
<p class="note">Evaluated on held-out prompts. Win rate: fraction of prompts where the RM prefers the policy's response over the SFT model's (ties ½). KL: mean summed log-ratio log π(y|x) − log π_ref(y|x) over sampled responses.</p>
<h2>Metrics</h2>
<div class="charts">
${metricCharts.map((c) => `<figure>${c}</figure>`).join('\n')}
</div>
<h2>Training losses</h2>
${losses.length === 0 ? '<p class="note">No loss curves yet.</p>' : `<div class="charts">\n${losses.map((c) => `<figure>${c}</figure>`).join('\n')}\n</div>`}
${optionsTable(data.options)}`;
  return page(`durable-rlhf · ${data.run}`, body);
}
