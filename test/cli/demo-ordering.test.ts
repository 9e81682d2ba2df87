// The recipe's central claim (recipe.md, paper Table 2) on the demo task: online iterative DPO > offline DPO
// > SFT on the gold score. Each run is seeded and reproducible on CPU, but on this tiny task the gains are
// small (+0.01–0.02 gold) next to the spread between seeds, and any numeric change in the engine redraws
// every sampled trajectory. So the claim is asserted on the mean over four fixed seeds (none chosen for its
// outcome), with margins below the means we measured; a per-seed table is printed for the reader.
import { rmSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../cli/context';
import { defaultReportPath } from '../../cli/commands/inspect';
import { main } from '../../cli/main';
import { offlineId } from '../../cli/offline-baseline';
import type { IterationMetrics } from '../../shared/messages';
import { getTestClient, getTestEnv, uniqueId } from '../helpers/services';

const SEEDS = [1, 2, 3, 42];
/** The ordering runs: the demo defaults (shared/recipe.ts) except for these, seed per run. */
const CONFIG: Record<string, string | number> = {
  'online.iterations': 3,
  'online.promptsPerIteration': 512,
  'online.learningRate': 3e-5,
  'online.reference': 'previous', // public code since Oct 2024
  'data.evalPrompts': 2048, // large held-out set: the standard error of a gold mean is ≈ 0.007
  'evaluation.prompts': 2048,
};

/**
 * Measured with this configuration (seeds 1, 2, 3, 42): gold of SFT .615 .642 .593 .603, offline DPO .617
 * .652 .590 .613, the last online iterate .631 .662 .588 .619 → mean gaps online − offline +0.007,
 * offline − SFT +0.005, online − SFT +0.012.
 */
const MEASURED = { onlineOverOffline: 0.007, offlineOverSft: 0.005, onlineOverSft: 0.012 };
/** Required mean gaps. */
const MARGIN = { onlineOverOffline: 0.003, offlineOverSft: 0.001, onlineOverSft: 0.006 };

let client: Client;

beforeAll(async () => {
  Object.assign(process.env, getTestEnv());
  client = await getTestClient();
});

afterAll(async () => {
  await client?.connection.close();
});

const gold = (metrics: IterationMetrics[], iteration: number, what: string): number => {
  const g = metrics.find((m) => m.iteration === iteration)?.gold;
  if (typeof g !== 'number') throw new Error(`${what}: no gold score for iteration ${iteration} in ${JSON.stringify(metrics.map((m) => m.iteration))}`);
  return g;
};

describe('demo ordering (seeded)', () => {
  it('gold, mean over seeds: online DPO (final iterate) > offline DPO > SFT, with margins', async () => {
    const rows: Array<{ seed: number; sft: number; offline: number; online: number }> = [];
    for (const seed of SEEDS) {
      const id = uniqueId(`demo-ordering-${seed}`);
      const errors: string[] = [];
      const io: Io = {
        out: () => undefined,
        err: (l) => errors.push(l),
        stdout: Object.assign(Object.create(process.stdout) as NodeJS.WriteStream, { isTTY: false, write: () => true }),
      };
      const args = Object.entries({ ...CONFIG, seed }).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
      const code = await main(['demo', '--id', id, '--interval', '60', ...args], io);
      expect(errors).toEqual([]);
      expect(code).toBe(0);
      rmSync(defaultReportPath(id), { force: true }); // .artifacts/reports/ is git-ignored; don't pile reports up

      const online = ((await client.workflow.getHandle(id).result()) as { metrics: IterationMetrics[] }).metrics;
      const offline = ((await client.workflow.getHandle(offlineId(id)).result()) as { metrics: IterationMetrics[] }).metrics;
      const last = Math.max(...online.map((m) => m.iteration));
      expect(last).toBe(Number(CONFIG['online.iterations'] ?? 3));
      rows.push({ seed, sft: gold(online, 0, id), offline: gold(offline, 1, offlineId(id)), online: gold(online, last, id) });
    }
    const mean = (f: (r: (typeof rows)[number]) => number): number => rows.reduce((a, r) => a + f(r), 0) / rows.length;
    const gaps = {
      onlineOverOffline: mean((r) => r.online - r.offline),
      offlineOverSft: mean((r) => r.offline - r.sft),
      onlineOverSft: mean((r) => r.online - r.sft),
    };
    const figures = `${rows.map((r) => `seed ${r.seed}: SFT ${r.sft.toFixed(4)}, offline ${r.offline.toFixed(4)}, online ${r.online.toFixed(4)}`).join('; ')}; mean gaps ${JSON.stringify(gaps)} (measured ${JSON.stringify(MEASURED)})`;
    console.log(figures);
    for (const k of ['onlineOverOffline', 'offlineOverSft', 'onlineOverSft'] as const) {
      expect(gaps[k], `${k} ≥ ${MARGIN[k]}: ${figures}`).toBeGreaterThanOrEqual(MARGIN[k]);
    }
  }, 900_000);
});
