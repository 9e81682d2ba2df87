// `npm run bench [-- suite ...]`: runs benchmark suites, prints each result as JSON and writes it to
// bench/results/<suite>.json. Suites that need Temporal/S3 get the dev stack (reused when it is running;
// what this run started is stopped at the end). Add a suite: write bench/<name>.ts exporting
// `run(ctx): Promise<object>` and register it in SUITES below.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type RlhfConfig } from '../shared/config';
import { ArtifactStore } from '../shared/store';
import { stackDown, stackEnv, stackOptions, stackUp, type StackInfo } from '../scripts/stack';
import { ensureTools } from '../scripts/tools';

export interface BenchContext {
  /** Config pointing at the stack (undefined for suites that do not need it). */
  config: RlhfConfig | undefined;
  store: ArtifactStore | undefined;
  stack: StackInfo | undefined;
  log(line: string): void;
}

export interface BenchSuite {
  description: string;
  needsStack: boolean;
  load(): Promise<{ run(ctx: BenchContext): Promise<Record<string, unknown>> }>;
}

export const SUITES: Record<string, BenchSuite> = {
  store: {
    description: 'artifact-store PUT/GET throughput vs raw PutObject/GetObject on the same server',
    needsStack: true,
    load: () => import('./store'),
  },
  engine: {
    description: 'engine generation tokens/s (batch 1, 16) and DPO step time vs PyTorch/transformers; peak RSS',
    needsStack: false,
    load: () => import('./engine'),
  },
  orchestration: {
    description: 'orchestration overhead of a small rlhfPipeline: wall time − time inside activities (union), as a fraction of wall time',
    // Starts its own private stack on free ports.
    needsStack: false,
    load: () => import('./orchestration'),
  },
};

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

async function main(argv: string[]): Promise<void> {
  const names = argv.length > 0 ? argv : Object.keys(SUITES);
  const unknown = names.filter((n) => !(n in SUITES));
  if (unknown.length > 0) throw new Error(`unknown bench suite '${unknown[0]}': available: ${Object.keys(SUITES).join(', ')}`);
  const suites = names.map((name) => [name, SUITES[name] as BenchSuite] as const);
  const log = (line: string): void => console.error(`[bench] ${line}`);

  let stack: StackInfo | undefined;
  const options = stackOptions();
  if (suites.some(([, s]) => s.needsStack)) {
    await ensureTools({ log });
    stack = await stackUp(options);
    log(`stack: Temporal ${stack.temporalAddress}, S3 ${stack.s3Endpoint}${stack.reused.length ? ` (reused ${stack.reused.join(', ')})` : ''}`);
  }
  const config = stack ? loadConfig({ ...process.env, ...stackEnv(stack) }) : undefined;
  const store = config ? ArtifactStore.fromConfig(config) : undefined;
  let failed = false;
  try {
    for (const [name, suite] of suites) {
      log(`suite ${name}: ${suite.description}`);
      try {
        const result = { suite: name, ...(await (await suite.load()).run({ config, store, stack, log })) };
        await mkdir(RESULTS_DIR, { recursive: true });
        await writeFile(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
        console.log(JSON.stringify(result, null, 2));
      } catch (err) {
        failed = true;
        console.error(`error: bench suite ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  } finally {
    store?.s3.destroy();
    if (stack) {
      const started = (['temporal', 's3'] as const).filter((s) => !stack?.reused.includes(s));
      if (started.length) await stackDown({ ...options, services: [...started] });
    }
  }
  if (failed) process.exitCode = 1;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
