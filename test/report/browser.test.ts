// Opens rendered reports in headless Chromium (Debian's, driven by playwright-core) and checks that every
// chart actually rendered: SVG boxes, series paths and point markers with non-zero size. Screenshots go to
// test-results/report/ (git-ignored) as artifacts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderRunReport } from '../../report/run-report';
import { renderSweepReport } from '../../report/sweep-report';
import { requireChromium } from '../../scripts/ensure-chromium';
import { sampleRun } from './fixtures';

const outDir = resolve(import.meta.dirname, '../../test-results/report');
let browser: Browser;

beforeAll(async () => {
  const executablePath = requireChromium(); // throws one line saying how to install Chromium
  mkdirSync(outDir, { recursive: true });
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
});

interface ChartBox {
  id: string;
  width: number;
  height: number;
  series: { name: string; width: number; height: number; length: number }[];
  markers: number;
  visibleMarkers: number;
}

async function openAndMeasure(name: string, html: string): Promise<ChartBox[]> {
  const file = join(outDir, `${name}.html`);
  writeFileSync(file, html);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const external: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) external.push(r.url());
  });
  await page.goto(pathToFileURL(file).href);
  const charts = await page.$$eval('svg.chart', (svgs) =>
    svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      const circles = [...svg.querySelectorAll('g.series circle')];
      return {
        id: svg.id,
        width: box.width,
        height: box.height,
        series: [...svg.querySelectorAll('g.series')].map((g) => {
          const path = g.querySelector('path') as unknown as { getTotalLength(): number; getBoundingClientRect(): { width: number; height: number } };
          const b = path.getBoundingClientRect();
          return { name: g.getAttribute('data-name') ?? '', width: b.width, height: b.height, length: path.getTotalLength() };
        }),
        markers: circles.length,
        visibleMarkers: circles.filter((c) => c.getBoundingClientRect().width > 0).length,
      };
    }),
  );
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
  await page.close();
  expect(external, 'the report must be self-contained').toEqual([]);
  return charts;
}

describe('reports in headless Chromium', () => {
  it('run report: every metric and loss chart renders its series', async () => {
    const charts = await openAndMeasure('run', renderRunReport(sampleRun()));
    expect(charts.map((c) => c.id)).toEqual(['metric-goldScore', 'metric-reward', 'metric-winRate', 'metric-kl', 'metric-length', 'loss-sft', 'loss-reward-model', 'loss-dpo']);
    for (const c of charts) {
      expect(c.width, c.id).toBeGreaterThan(100);
      expect(c.height, c.id).toBeGreaterThan(50);
      expect(c.series.length, c.id).toBeGreaterThan(0);
      for (const s of c.series) expect(s.length, `${c.id}/${s.name}`).toBeGreaterThan(10);
    }
    const gold = charts.find((c) => c.id === 'metric-goldScore')!;
    expect(gold.markers).toBe(4); // SFT (t=0) + 3 iterations
    expect(gold.visibleMarkers).toBe(4);
    expect(gold.series[0]!.width).toBeGreaterThan(100);
    expect(charts.find((c) => c.id === 'loss-dpo')!.series.map((s) => s.name)).toEqual(['iter-0001', 'iter-0002', 'iter-0003', 'offline-dpo']);
  });

  it('sweep report: one line per run in every metric chart', async () => {
    const runs = [0.05, 0.1, 0.3].map((beta, i) => ({
      workflowId: `sweep-b/run-${i}`,
      point: { 'online.beta': beta },
      data: sampleRun(`sweep-b/run-${i}`, (i - 1) * 0.05),
    }));
    const charts = await openAndMeasure('sweep', renderSweepReport({ sweepId: 'b', runs }));
    expect(charts).toHaveLength(5);
    for (const c of charts) {
      expect(c.series.map((s) => s.name)).toEqual(['online.beta=0.05', 'online.beta=0.1', 'online.beta=0.3']);
      for (const s of c.series) expect(s.length, `${c.id}/${s.name}`).toBeGreaterThan(10);
      expect(c.visibleMarkers).toBe(12);
    }
  });
});
