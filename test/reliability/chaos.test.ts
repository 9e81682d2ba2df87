// A short fault-injection run (chaos/harness.ts, as `npm run chaos` but with 3 faults and 1 iteration): the
// pipeline completes despite a worker SIGKILL, a server restart and S3 faults, with every committed
// artifact byte-equal to the fault-free run of the same seed and no corrupt, missing or duplicate data.
import { describe, expect, it } from 'vitest';
import { chaosPassed, runChaos } from '../../chaos/harness';

describe('chaos (short)', () => {
  it('3 faults: completed, artifacts equal to the fault-free run', async () => {
    const lines: string[] = [];
    const summary = await runChaos({
      faults: 3,
      faultsPerRun: 3,
      seeds: 1,
      iterations: 1,
      kinds: ['kill-inference', 'kill-train', 'kill-control', 'restart-temporal', 'restart-s3', 's3-slowdown', 's3-reset'],
      log: (l) => lines.push(l),
    });
    const faults = Object.values(summary.faultsByKind).reduce((a, b) => a + b, 0);
    const detail = `${JSON.stringify({ ...summary, details: undefined })}\n${lines.join('\n')}`;
    expect(summary.runs, detail).toBeGreaterThanOrEqual(1);
    expect(faults, detail).toBe(3);
    expect(summary.runsCompleted, detail).toBe(summary.runs);
    expect(summary.artifactDifferences, detail).toBe(0);
    expect(summary.uncommittedVisible, detail).toBe(0);
    expect(summary.missingRows + summary.duplicateRows, detail).toBe(0);
    expect(chaosPassed(summary)).toBe(true);
    // The runs committed real artifacts (the comparison is not vacuous).
    expect(summary.details[0]?.retries?.activities ?? 0, detail).toBeGreaterThan(5);
  }, 600_000);
});
