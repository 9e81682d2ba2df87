// The sweep page: one row per grid point (its options and final/best metrics), and one chart per metric with
// a line per run, so the effect of β, the learning rate, K... on gold score, reward, win rate, KL and length
// can be read side by side.
import { escapeHtml, formatNumber, formatPercent, page, table } from './html';
import { bestIteration, METRICS, metricSeries } from './run-report';
import { lineChart } from './svg';
import type { SweepReportData, SweepRun } from './types';

/** "online.beta=0.1 online.learningRate=5e-5" */
export function pointLabel(point: SweepRun['point']): string {
  return Object.entries(point)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

export function renderSweepReport(sweep: SweepReportData): string {
  const keys = [...new Set(sweep.runs.flatMap((r) => Object.keys(r.point)))];
  const finalGold = (r: SweepRun): number | null => r.data.iterations[r.data.iterations.length - 1]?.goldScore ?? null;
  let bestRun = -1;
  sweep.runs.forEach((r, i) => {
    const g = finalGold(r);
    if (g !== null && (bestRun < 0 || g > (finalGold(sweep.runs[bestRun]!) as number))) bestRun = i;
  });
  const rows = sweep.runs.map((r, i) => {
    const its = r.data.iterations;
    const last = its[its.length - 1];
    const best = its[bestIteration(its)];
    const sft = r.data.baselines.find((b) => /^sft$/i.test(b.name));
    const name = r.data.uiUrl ? `<a href="${escapeHtml(r.data.uiUrl)}">${escapeHtml(r.workflowId)}</a>` : escapeHtml(r.workflowId);
    return {
      cells: [
        name,
        ...keys.map((k) => `<code>${escapeHtml(String(r.point[k] ?? '—'))}</code>`),
        escapeHtml(r.data.status ?? '—'),
        `${its.length}`,
        formatNumber(sft?.goldScore ?? null),
        formatNumber(last?.goldScore ?? null),
        best ? `${formatNumber(best.goldScore)} (t=${best.iteration})` : '—',
        formatNumber(last?.reward ?? null),
        formatPercent(last?.winRate ?? null),
        formatNumber(last?.kl ?? null),
        formatNumber(last?.length ?? null, 1),
      ],
      ...(i === bestRun ? { className: 'best' } : {}),
    };
  });
  const header = ['run', ...keys.map((k) => `<code>${escapeHtml(k)}</code>`), 'status', 'iterations', 'SFT gold', 'final gold', 'best gold', 'final reward', 'final win rate', 'final KL', 'final length'];
  const charts = METRICS.map((m) =>
    lineChart({
      id: `sweep-${m.key}`,
      title: m.title,
      xLabel: 'iteration (0 = SFT)',
      yLabel: m.yLabel,
      integerX: true,
      width: 520,
      height: 300 + Math.ceil(sweep.runs.length / 3) * 16,
      series: sweep.runs.map((r) => metricSeries(r.data, m.key, pointLabel(r.point) || r.workflowId)),
      ...(m.yInclude ? { yInclude: m.yInclude } : {}),
    }),
  );
  const body = `<h1>durable-rlhf sweep <code>${escapeHtml(sweep.sweepId)}</code></h1>
<p class="meta">${sweep.runs.length} runs${sweep.generatedAt ? ` · generated ${escapeHtml(sweep.generatedAt)}` : ''}</p>
<h2>Runs</h2>
${sweep.runs.length === 0 ? '<p class="note">No runs.</p>' : table(header, rows, 'runs')}
<h2>Metrics per iteration</h2>
<div class="charts">
${charts.map((c) => `<figure>${c}</figure>`).join('\n')}
</div>`;
  return page(`durable-rlhf · sweep ${sweep.sweepId}`, body);
}
