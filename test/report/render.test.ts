import { describe, expect, it } from 'vitest';
import { escapeHtml, formatNumber } from '../../report/html';
import { bestIteration, metricSeries, renderRunReport } from '../../report/run-report';
import { lineChart, niceTicks } from '../../report/svg';
import { pointLabel, renderSweepReport } from '../../report/sweep-report';
import { sampleRun } from './fixtures';

describe('svg charts', () => {
  it('niceTicks covers the range with round steps', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.61, 0.8, 5)).toEqual([0.6, 0.65, 0.7, 0.75, 0.8]);
    expect(niceTicks(1, 3, 6, true)).toEqual([1, 2, 3]);
    const flat = niceTicks(2, 2);
    expect(flat[0]).toBeLessThan(2);
    expect(flat[flat.length - 1]).toBeGreaterThan(2);
  });
  it('draws one path per series, skips missing values, and says so when there is no data', () => {
    const svg = lineChart({
      id: 'c',
      title: 'T <x>',
      xLabel: 'x',
      series: [
        { name: 'a', points: [[0, 1], [1, Number.NaN], [2, 3]] },
        { name: 'b', points: [[0, 2], [2, 2]] },
      ],
    });
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(4);
    expect(svg).toContain('T &lt;x&gt;');
    expect(svg).not.toContain('NaN');
    const empty = lineChart({ id: 'e', title: 'E', xLabel: 'x', series: [{ name: 'a', points: [[1, Number.NaN]] }] });
    expect(empty).toContain('no data yet');
    expect(empty).not.toContain('<path');
  });
});

describe('run report', () => {
  it('is self-contained HTML with the iteration table and every chart', () => {
    const html = renderRunReport(sampleRun());
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link |src="http|href="http(?!:\/\/127\.0\.0\.1:8233)/);
    for (const id of ['metric-goldScore', 'metric-reward', 'metric-winRate', 'metric-kl', 'metric-length', 'loss-sft', 'loss-reward-model', 'loss-dpo']) {
      expect(html).toContain(`id="${id}"`);
    }
    expect(html).toContain('<tr class="best"><td>iteration 3</td><td>0.8</td>');
    expect(html).toContain('<tr class="baseline"><td>offline DPO</td><td>0.68</td>');
  });
  it('starts the online series at the SFT model and escapes user text', () => {
    const data = sampleRun('run-<b>');
    expect(metricSeries(data, 'goldScore').points).toEqual([[0, 0.61], [1, 0.7], [2, 0.77], [3, 0.8]]);
    const html = renderRunReport(data);
    expect(html).toContain('run-&lt;b&gt;');
    expect(html).not.toContain('run-<b>');
  });
  it('renders a run that has not evaluated anything yet', () => {
    const html = renderRunReport({ run: 'r', iterations: [], baselines: [], lossCurves: [] });
    expect(html).toContain('No evaluation yet.');
    expect(html).toContain('No loss curves yet.');
    expect(bestIteration([])).toBe(-1);
  });
  it('formats numbers for tables', () => {
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(2)).toBe('2');
    expect(formatNumber(0.12345)).toBe('0.123');
    expect(formatNumber(null)).toBe('—');
    expect(formatNumber(0.00001)).toBe('1.00e-5');
    expect(escapeHtml(`<a href="x">'&`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  });
});

describe('sweep report', () => {
  it('has one row per run with its grid point, and one line per run in each chart', () => {
    const runs = [0, 0.05, -0.05].map((shift, i) => ({
      workflowId: `sweep-s/run-${i}`,
      point: { 'online.beta': [0.05, 0.1, 0.3][i] as number },
      data: sampleRun(`sweep-s/run-${i}`, shift),
    }));
    const html = renderSweepReport({ sweepId: 's', runs });
    expect(html.match(/<tr( class="best")?><td><a /g)).toHaveLength(3);
    expect(html).toContain('<tr class="best"><td><a href="http://127.0.0.1:8233/namespaces/default/workflows/sweep-s/run-1">');
    const gold = /<svg id="sweep-goldScore"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
    expect(gold.match(/<g class="series"/g)).toHaveLength(3);
    expect(pointLabel({ 'online.beta': 0.1, 'online.k': 4 })).toBe('online.beta=0.1 online.k=4');
  });
});

describe('axis labels', () => {
  it('use as many decimals as the tick step needs', async () => {
    const { formatTick } = await import('../../report/svg');
    expect(formatTick(-0.0165, 0.0005)).toBe('-0.0165');
    expect(formatTick(0.6, 0.2)).toBe('0.6');
    expect(formatTick(20, 20)).toBe('20');
    expect(formatTick(0.65, 0.05)).toBe('0.65');
    expect(formatTick(2e-5, 1e-5)).toBe('2.0e-5');
  });
  it('leaves out training columns nobody reported', () => {
    const data = sampleRun();
    for (const it of data.iterations) it.margin = null;
    const html = renderRunReport(data);
    expect(html).not.toContain('<th>margin</th>');
    expect(html).toContain('<th>DPO loss</th>');
  });
});

describe('finding Chromium', () => {
  it('names the install command when the browser is missing', async () => {
    const { requireChromium, findChromium } = await import('../../scripts/ensure-chromium');
    expect(() => requireChromium({ CHROMIUM_PATH: '/nonexistent/chromium' })).toThrow(
      'CHROMIUM_PATH=/nonexistent/chromium does not exist: install it with `sudo apt-get update && sudo apt-get install -y chromium`',
    );
    expect(findChromium({ CHROMIUM_PATH: '/nonexistent/chromium' })).toBeUndefined();
  });
});

describe('loss curves', () => {
  it('smooth dense curves with a debiased moving average and keep the raw values faint', async () => {
    const { smooth } = await import('../../report/svg');
    const { lossSeries } = await import('../../report/run-report');
    expect(smooth([[1, 2], [2, 2], [3, 2]])).toEqual([[1, 2], [2, 2], [3, 2]]);
    const s = smooth([[1, 0], [2, 10]], 0.5);
    expect(s[1]![1]).toBeCloseTo(10 * (0.5 / 0.75));
    const dense = lossSeries({ stage: 'sft', points: Array.from({ length: 60 }, (_, i) => ({ step: i + 1, loss: 1 / (i + 1) })) }, 0);
    expect(dense.map((d) => [d.name, d.faint ?? false])).toEqual([['sft (raw)', true], ['sft (moving avg.)', false]]);
    expect(lossSeries({ stage: 'iter-0001', points: [{ step: 1, loss: 0.7 }] }, 1)).toHaveLength(1);
  });
});
