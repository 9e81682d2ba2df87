// Line charts as inline SVG strings: axes with "nice" ticks, one polyline + point markers per series,
// optional horizontal reference lines (baselines), and a legend. Pure functions, no DOM.
import { escapeHtml, formatNumber } from './html';

export interface Series {
  name: string;
  /** [x, y] points; non-finite y values are skipped (gaps). */
  points: [number, number][];
  dashed?: boolean;
  /** Drawn light, without markers (raw values under a smoothed line). */
  faint?: boolean;
  /** Colour index in the palette (default: the series' position). */
  color?: number;
}

export interface ReferenceLine {
  name: string;
  y: number;
}

export interface LineChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel?: string;
  series: Series[];
  references?: ReferenceLine[];
  /** Force the y range to include these bounds (e.g. [0, 1] for rates). */
  yInclude?: number[];
  /** Integer x ticks only (iterations, steps). */
  integerX?: boolean;
  width?: number;
  height?: number;
}

/** Colour-blind-safe palette (Okabe–Ito). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

/** About `count` round tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  let step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const start = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < hi) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

const finite = (v: number): boolean => Number.isFinite(v);

/** A tick label with just enough decimals for the tick step (0.0005 steps → 4 decimals). */
export function formatTick(value: number, step: number): string {
  if (!Number.isFinite(value)) return '';
  const magnitude = Math.max(Math.abs(value), Math.abs(step));
  if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-4)) return value.toExponential(1);
  const decimals = step > 0 ? Math.min(8, Math.max(0, -Math.floor(Math.log10(step) + 1e-9))) : 0;
  return String(Number(value.toFixed(decimals)));
}

/** Exponential moving average (debiased, as TensorBoard's smoothing) of the y values. */
export function smooth(points: [number, number][], weight = 0.9): [number, number][] {
  let last = 0;
  let norm = 0;
  return points.map(([x, y]) => {
    last = last * weight + (1 - weight) * y;
    norm = norm * weight + (1 - weight);
    return [x, last / norm];
  });
}

export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 440;
  const height = spec.height ?? 260;
  const margin = { top: 30, right: 16, bottom: 42, left: 58 };
  const plotW = width - margin.left - margin.right;
  const legendRows = Math.ceil((spec.series.length + (spec.references?.length ?? 0)) / 3);
  const legendH = legendRows * 16;
  const plotH = height - margin.top - margin.bottom - legendH;
  const title = `<text class="title" x="${margin.left}" y="18" font-size="13" font-weight="600" fill="#1f2328">${escapeHtml(spec.title)}</text>`;

  const pts = spec.series.flatMap((s) => s.points.filter(([x, y]) => finite(x) && finite(y)));
  const refs = (spec.references ?? []).filter((r) => finite(r.y));
  if (pts.length === 0) {
    return `<svg id="${escapeHtml(spec.id)}" class="chart empty" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(spec.title)}: no data">${title}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" font-size="12" fill="#656d76">no data yet</text></svg>`;
  }

  const xs = pts.map((p) => p[0]);
  const ys = [...pts.map((p) => p[1]), ...refs.map((r) => r.y), ...(spec.yInclude ?? [])];
  const xTicks = niceTicks(Math.min(...xs), Math.max(...xs), 6, spec.integerX ?? false);
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 5);
  const [x0, x1] = [xTicks[0]!, xTicks[xTicks.length - 1]!];
  const [y0, y1] = [yTicks[0]!, yTicks[yTicks.length - 1]!];
  const sx = (x: number): number => margin.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number): number => margin.top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;
  const f = (v: number): string => v.toFixed(1);

  const parts: string[] = [title];
  parts.push(`<g class="grid" stroke="#d0d7de" stroke-width="1">`);
  for (const t of yTicks) parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${f(sy(t))}" y2="${f(sy(t))}"/>`);
  parts.push(`</g>`);
  parts.push(`<g class="axis" font-size="11" fill="#656d76">`);
  const yStep = (yTicks[1] ?? y1) - y0;
  const xStep = (xTicks[1] ?? x1) - x0;
  for (const t of yTicks) parts.push(`<text x="${margin.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${formatTick(t, yStep)}</text>`);
  for (const t of xTicks) parts.push(`<text x="${f(sx(t))}" y="${f(margin.top + plotH + 16)}" text-anchor="middle">${formatTick(t, xStep)}</text>`);
  parts.push(`<text x="${f(margin.left + plotW / 2)}" y="${f(margin.top + plotH + 32)}" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`);
  if (spec.yLabel) {
    parts.push(`<text transform="translate(14 ${f(margin.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`);
  }
  parts.push(`</g>`);
  parts.push(`<line class="x-axis" x1="${margin.left}" x2="${margin.left + plotW}" y1="${f(margin.top + plotH)}" y2="${f(margin.top + plotH)}" stroke="#656d76"/>`);

  const legend: string[] = [];
  const legendItem = (i: number, color: string, name: string, dashed: boolean): void => {
    const lx = margin.left + (i % 3) * (plotW / 3);
    const ly = height - legendH + Math.floor(i / 3) * 16 + 4;
    legend.push(
      `<line x1="${f(lx)}" x2="${f(lx + 18)}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="4 3"' : ''}/>` +
        `<text x="${f(lx + 22)}" y="${ly + 4}" font-size="11" fill="#1f2328">${escapeHtml(name)}</text>`,
    );
  };

  refs.forEach((r, i) => {
    const color = '#8c959f';
    const y = f(sy(r.y));
    parts.push(`<line class="reference" data-name="${escapeHtml(r.name)}" x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="1.5" stroke-dasharray="${i % 2 === 0 ? '6 4' : '2 3'}"/>`);
    legendItem(spec.series.length + i, color, `${r.name} (${formatNumber(r.y)})`, true);
  });

  spec.series.forEach((s, i) => {
    const color = PALETTE[(s.color ?? i) % PALETTE.length] as string;
    const valid = s.points.filter(([x, y]) => finite(x) && finite(y));
    legendItem(i, color, s.name, s.dashed ?? false);
    if (valid.length === 0) return;
    const d = valid.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${f(sx(x))} ${f(sy(y))}`).join(' ');
    parts.push(
      `<g class="series" data-name="${escapeHtml(s.name)}"><path d="${d}" fill="none" stroke="${color}" stroke-width="${s.faint ? 1 : 2}"${s.faint ? ' stroke-opacity="0.35"' : ''}${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
    );
    // Markers only where points are few enough to read (iterations), not on dense loss curves.
    if (valid.length <= 40 && !s.faint) {
      for (const [x, y] of valid) {
        parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="3.5" fill="${color}"><title>${escapeHtml(s.name)}: ${formatNumber(x)} → ${formatNumber(y, 4)}</title></circle>`);
      }
    }
    parts.push(`</g>`);
  });
  parts.push(`<g class="legend">${legend.join('')}</g>`);

  return `<svg id="${escapeHtml(spec.id)}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(spec.title)}">${parts.join('')}</svg>`;
}
