// npm run chaos -- [--faults N] [--faults-per-run M] [--seeds S] [--iterations T] [--schedule-seed X] [--keep-data]
// Runs reduced demo pipelines under injected faults (see chaos/harness.ts), prints a JSON summary on
// stdout (progress on stderr) and exits 1 unless every run completed with artifacts equal to the fault-free
// run of its seed.
import { pathToFileURL } from 'node:url';
import { chaosPassed, FAULT_KINDS, runChaos, type ChaosOptions, type FaultKind } from './harness';

export function parseChaosArgs(argv: string[]): ChaosOptions & { details: boolean } {
  const out: ChaosOptions & { details: boolean } = { faults: 20, details: false };
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !/^\d+$/.test(v) || n < min || n > max) throw new Error(`${name} needs an integer from ${min} to ${max} (got ${v ?? 'nothing'})`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] ?? '').split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--faults') out.faults = int(flag, value(), 1, 10_000);
    else if (flag === '--faults-per-run') out.faultsPerRun = int(flag, value(), 1, 1000);
    else if (flag === '--seeds') out.seeds = int(flag, value(), 1, 100);
    else if (flag === '--iterations') out.iterations = int(flag, value(), 1, 10);
    else if (flag === '--schedule-seed') out.scheduleSeed = int(flag, value(), 0, 2 ** 31);
    else if (flag === '--keep-data') out.keepData = true;
    else if (flag === '--details') out.details = true;
    else if (flag === '--kinds') {
      const kinds = (value() ?? '').split(',').filter(Boolean);
      const bad = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
      if (kinds.length === 0 || bad.length) throw new Error(`--kinds takes a comma-separated subset of ${FAULT_KINDS.join(',')}`);
      out.kinds = kinds as FaultKind[];
    } else throw new Error(`unknown argument '${argv[i]}': usage: npm run chaos -- [--faults N] [--faults-per-run M] [--seeds S] [--iterations T] [--kinds a,b] [--schedule-seed X] [--keep-data] [--details]`);
  }
  return out;
}

async function main(): Promise<void> {
  const options = parseChaosArgs(process.argv.slice(2));
  const summary = await runChaos(options);
  const { details, ...rest } = summary;
  const failed = details.filter((d) => !d.completed || d.differences.length || d.corrupt.length || d.missingRows || d.duplicateRows);
  console.log(JSON.stringify(options.details ? summary : { ...rest, failedRuns: failed }, null, 2));
  process.exit(chaosPassed(summary) ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  });
}
