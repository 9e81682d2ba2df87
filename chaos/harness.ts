// The fault-injection harness. One private stack per session — a Temporal dev server (SQLite), versitygw,
// the S3 fault proxy between the workers and versitygw, and one worker process per queue — then, per run:
//   1. the fault-free run of the seed (once per seed): the expected artifacts and duration;
//   2. the same seed again, same run name (its artifacts deleted first), while faults are injected at random
//      moments: SIGKILL of the control / inference / train worker (restarted), a Temporal server restart, an
//      S3 server restart, and S3 faults through the proxy (503 SlowDown, a held request, connection resets);
//   3. checks: the run completed; every committed manifest's entries are byte-equal (sha256) to the
//      fault-free run's; every committed entry verifies (no reader can see an uncommitted or partial object);
//      no missing or duplicate JSONL rows. Retries come from the histories; work redone is the extra wall
//      time over the fault-free run of the same seed.
import { createHash } from 'node:crypto';
import { cp, mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { runPrefix } from '../shared/layout';
import { ArtifactStore, createS3Client } from '../shared/store';
import { DEFAULTS } from '../shared/config';
import type { RecipeInput } from '../shared/recipe';
import { createRng, type Rng } from '../tasks/prng';
import { stackOptions, startS3, stopS3 } from '../scripts/stack';
import { ensureTools } from '../scripts/tools';
import { freePort } from '../test/helpers/ports';
import { collectArtifacts, compareArtifacts, type RunArtifacts } from './artifacts';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { retryStats, type RetryStats } from './history';
import { chaosTemporal, type ChaosTemporal } from './temporal-server';
import { workerPool, type WorkerPool } from './worker-pool';

export const FAULT_KINDS = ['kill-control', 'kill-inference', 'kill-train', 'restart-temporal', 'restart-s3', 's3-slowdown', 's3-timeout', 's3-reset'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The smallest configuration that runs the real engine end to end (as test/e2e), with fast retries. */
export function chaosRecipe(seed: number, iterations: number): RecipeInput {
  return {
    seed,
    data: { sftExamples: 32, preferencePairs: 32, evalPrompts: 4 },
    models: { demo: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 } },
    sft: { epochs: 1, batchSize: 8 },
    reward: { epochs: 1, batchSize: 8 },
    online: { iterations, promptsPerIteration: 8, k: 4, maxNewTokens: 8, epochs: 2, batchSize: 4 },
    evaluation: { prompts: 4, maxNewTokens: 8 },
    execution: {
      shardSize: 4,
      inferenceWindow: 2,
      checkpointEverySteps: 2,
      // Checkpoints by step only: a time-based checkpoint would make the set of checkpoints timing-dependent.
      checkpointEverySeconds: 86_400,
      threads: 1,
      timeouts: { control: '2 minutes', inference: '5 minutes', train: '5 minutes', controlHeartbeat: '15s', inferenceHeartbeat: '15s', trainHeartbeat: '15s' },
      retry: { maximumAttempts: 50, initialInterval: '500ms', maximumInterval: '3s' },
    },
  };
}

export interface ChaosOptions {
  /** Faults to inject in total (over as many runs as it takes). */
  faults: number;
  /** Faults per run (default 10). */
  faultsPerRun?: number;
  /** Distinct seeds; runs cycle over them and reuse each seed's fault-free run (default min(runs, 3)). */
  seeds?: number;
  /** Online iterations of each pipeline (default 2). */
  iterations?: number;
  /** Seed of the fault schedule (default 1). */
  scheduleSeed?: number;
  /** Kinds to draw from (default all). */
  kinds?: readonly FaultKind[];
  log?: (line: string) => void;
  /** Keep the data directory (logs, SQLite, S3 objects) for inspection. */
  keepData?: boolean;
}

export interface RunReport {
  run: number;
  seed: number;
  completed: boolean;
  error?: string;
  faults: FaultKind[];
  seconds: number;
  faultFreeSeconds: number;
  workRedoneSeconds: number;
  retries: RetryStats | null;
  differences: string[];
  corrupt: string[];
  orphans: number;
  missingRows: number;
  duplicateRows: number;
}

export interface ChaosSummary {
  runs: number;
  faultsByKind: Record<FaultKind, number>;
  runsCompleted: number;
  artifactDifferences: number;
  workRedone: { maxSeconds: number; medianSeconds: number };
  retries: { activityRetries: number; workflowTaskFailures: number; s3Requests: number; s3FaultsInjected: number };
  uncommittedVisible: number;
  missingRows: number;
  duplicateRows: number;
  orphanObjects: number;
  workerRestarts: Record<'control' | 'inference' | 'train', number>;
  unexpectedWorkerExits: number;
  details: RunReport[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CODE_DIRS = ['activities', 'engine', 'shared', 'tasks', 'workers', 'workflows', 'report'];

/** sha256 over the source the workers run (checked unchanged after every run). */
async function codeFingerprint(root: string): Promise<string> {
  const hash = createHash('sha256');
  for (const dir of CODE_DIRS) {
    const files = (await readdir(join(root, dir), { recursive: true }).catch(() => [] as string[]))
      .filter((f) => /\.(ts|js|mjs|json)$/.test(f) && !/\.test\.ts$/.test(f))
      .sort();
    for (const f of files) {
      hash.update(`${dir}/${f}\0`);
      hash.update(await readFile(join(root, dir, f)).catch(() => Buffer.alloc(0)));
    }
  }
  return hash.digest('hex');
}

/** A frozen copy of the code the workers run (others keep editing the checkout during a session). */
async function snapshotCode(into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  for (const dir of CODE_DIRS) await cp(join(REPO, dir), join(into, dir), { recursive: true, filter: (src) => !/\.test\.ts$/.test(src) });
  for (const file of ['package.json', 'tsconfig.json']) await cp(join(REPO, file), join(into, file));
  await symlink(join(REPO, 'node_modules'), join(into, 'node_modules'), 'dir');
  return into;
}

async function buildBundle(codeDir: string, path: string): Promise<void> {
  const bundle = await bundleWorkflowCode({ workflowsPath: join(codeDir, 'workflows', 'index.ts'), logger: new DefaultLogger('WARN') });
  await writeFile(path, bundle.code);
}

interface Session {
  dataDir: string;
  temporal: ChaosTemporal;
  s3: ReturnType<typeof stackOptions>;
  proxy: FaultProxy;
  pool: WorkerPool;
  client: Client;
  /** Direct to versitygw (verification; not through the proxy). */
  store: ArtifactStore;
  queues: { control: string; inference: string; train: string };
  /** Roles deliberately down right now (not to be restarted by the watchdog). */
  down: Set<string>;
  watchdog: NodeJS.Timeout | undefined;
  bundlePath: string;
  fingerprint: string;
  /** The frozen code the workers run. */
  codeDir: string;
}

async function openSession(log: (l: string) => void): Promise<Session> {
  await ensureTools();
  const dataDir = await mkdtemp(join(tmpdir(), 'durable-rlhf-chaos-'));
  await mkdir(join(dataDir, 'logs'), { recursive: true });
  const credentials = { accessKeyId: 'rlhf-chaos', secretAccessKey: 'rlhf-chaos-secret' };
  const s3 = stackOptions({ dataDir: join(dataDir, 'stack'), s3Port: await freePort(), uiPort: null, services: ['s3'], bucket: 'durable-rlhf-chaos', credentials }, process.env);
  const temporal = chaosTemporal(join(dataDir, 'temporal'), await freePort());
  await Promise.all([temporal.start(), startS3(s3)]);
  const s3Endpoint = `http://127.0.0.1:${s3.s3Port}`;
  const random = createRng('chaos-proxy');
  const proxy = await startFaultProxy({ upstream: s3Endpoint, holdMs: 20_000, random: () => random.next() });
  log(`chaos stack: Temporal ${temporal.address}, S3 ${s3Endpoint} behind fault proxy ${proxy.url}, data ${dataDir}`);

  // One workflow bundle for every control-worker (re)start: restarts take seconds, not a webpack build.
  const codeDir = await snapshotCode(join(dataDir, 'code'));
  const fingerprint = await codeFingerprint(codeDir);
  const bundlePath = join(dataDir, 'workflow-bundle.js');
  await buildBundle(codeDir, bundlePath);

  const queues = { control: 'chaos-control', inference: 'chaos-inference', train: 'chaos-train' };
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    S3_ENDPOINT: proxy.url,
    S3_BUCKET: s3.bucket,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    RLHF_CONTROL_QUEUE: queues.control,
    RLHF_INFERENCE_QUEUE: queues.inference,
    RLHF_TRAIN_QUEUE: queues.train,
    RLHF_WORKFLOW_BUNDLE: bundlePath,
    RLHF_LOG_LEVEL: 'WARN',
    RLHF_SHUTDOWN_GRACE: '1s',
    RLHF_SCRATCH_DIR: join(dataDir, 'scratch'),
    RLHF_PAYLOAD_KEY: '',
  };
  const pool = workerPool(env, join(dataDir, 'logs'), join(codeDir, 'workers', 'main.ts'));
  for (const role of ['control', 'inference', 'train'] as const) pool.start(role);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: 'default' });
  const store = new ArtifactStore({
    s3: createS3Client({ endpoint: s3Endpoint, region: DEFAULTS.s3Region, forcePathStyle: true, credentials }),
    bucket: s3.bucket,
    endpoint: s3Endpoint,
  });
  const session: Session = { dataDir, temporal, s3, proxy, pool, client, store, queues, down: new Set(), watchdog: undefined, bundlePath, fingerprint, codeDir };
  // A worker that exits on its own (e.g. it started while S3 was restarting) is started again.
  session.watchdog = setInterval(() => {
    for (const role of ['control', 'inference', 'train'] as const) {
      if (!session.down.has(role) && !pool.running(role)) pool.start(role);
    }
  }, 2_000);
  return session;
}

async function closeSession(s: Session, keepData: boolean): Promise<void> {
  if (s.watchdog) clearInterval(s.watchdog);
  await s.pool.stopAll();
  await s.client.connection.close().catch(() => undefined);
  await s.proxy.close();
  await s.temporal.stop();
  await stopS3(s.s3);
  s.store.s3.destroy();
  if (!keepData) await rm(s.dataDir, { recursive: true, force: true });
}

async function injectFault(s: Session, kind: FaultKind, rng: Rng): Promise<void> {
  switch (kind) {
    case 'kill-control':
    case 'kill-inference':
    case 'kill-train': {
      const role = kind.slice('kill-'.length) as 'control' | 'inference' | 'train';
      s.down.add(role);
      try {
        await s.pool.kill(role);
        await sleep(rng.int(200, 1500));
        s.pool.start(role);
      } finally {
        s.down.delete(role);
      }
      return;
    }
    case 'restart-temporal':
      await s.temporal.stop(rng.bernoulli(0.5));
      await sleep(rng.int(200, 2000));
      await s.temporal.start();
      return;
    case 'restart-s3':
      await stopS3(s.s3);
      await sleep(rng.int(200, 2000));
      await startS3(s.s3);
      return;
    case 's3-slowdown':
      s.proxy.arm('slowdown', rng.int(1, 6));
      return;
    case 's3-timeout':
      s.proxy.arm('timeout', 1);
      return;
    case 's3-reset':
      s.proxy.arm('reset', rng.int(1, 4));
      return;
  }
}

const isTransient = (err: unknown): boolean => !(err instanceof WorkflowFailedError);

/** Waits for a workflow result across Temporal restarts (the client reconnects; a long poll may fail). */
async function waitResult(s: Session, workflowId: string, runId: string, deadline: number): Promise<{ ok: boolean; error?: string }> {
  while (Date.now() < deadline) {
    try {
      await s.client.workflow.getHandle(workflowId, runId).result();
      return { ok: true };
    } catch (err) {
      if (!isTransient(err)) return { ok: false, error: `${(err as Error).message}: ${String((err as { cause?: Error }).cause?.message ?? '')}` };
      await sleep(1000);
    }
  }
  await s.client.workflow.getHandle(workflowId, runId).terminate('chaos deadline').catch(() => undefined);
  return { ok: false, error: 'deadline exceeded' };
}

async function startPipeline(s: Session, workflowId: string, input: RecipeInput & { run: string }): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const handle = await s.client.workflow.start('rlhfPipeline', { taskQueue: s.queues.control, workflowId, args: [{ ...input, execution: { ...input.execution, taskQueues: s.queues } }] });
      return handle.firstExecutionRunId;
    } catch (err) {
      if (attempt >= 10) throw err;
      await sleep(1000);
    }
  }
}

interface Baseline {
  artifacts: RunArtifacts;
  seconds: number;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const log = options.log ?? ((l: string) => console.error(l));
  const perRun = Math.max(1, options.faultsPerRun ?? 10);
  const plannedRuns = Math.max(1, Math.ceil(options.faults / perRun));
  const seeds = Math.max(1, Math.min(options.seeds ?? 3, plannedRuns));
  const iterations = options.iterations ?? 2;
  const kinds = options.kinds ?? FAULT_KINDS;
  const rng = createRng(`chaos-schedule-${options.scheduleSeed ?? 1}`);
  const faultsByKind = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const details: RunReport[] = [];
  const baselines = new Map<number, Baseline>();
  const s = await openSession(log);
  // Ctrl-C / SIGTERM: stop the private stack and workers before exiting (bounded: 30 s).
  const onSignal = (): void => {
    const t = setTimeout(() => process.exit(130), 30_000);
    void closeSession(s, options.keepData ?? false).finally(() => {
      clearTimeout(t);
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let injected = 0;
  try {
    // Bounded: at most twice the planned runs (a run that ends before its faults are spent adds one more).
    for (let i = 0; injected < options.faults && i < plannedRuns * 2; i++) {
      const seed = 1000 + (i % seeds);
      const run = `chaos-seed-${seed}`;
      const workflowId = `chaos-seed-${seed}`;
      const input = { run, ...chaosRecipe(seed, iterations) };
      let baseline = baselines.get(seed);
      if (!baseline) {
        await s.store.deletePrefix(runPrefix(run));
        const t0 = Date.now();
        const runId = await startPipeline(s, workflowId, input);
        const r = await waitResult(s, workflowId, runId, Date.now() + 20 * 60_000);
        if (!r.ok) throw new Error(`the fault-free run of seed ${seed} failed: ${r.error}`);
        baseline = { seconds: (Date.now() - t0) / 1000, artifacts: await collectArtifacts(s.store, run) };
        baselines.set(seed, baseline);
        log(`seed ${seed}: fault-free run ${round1(baseline.seconds)} s, ${baseline.artifacts.manifests.size} committed prefixes`);
      }
      await s.store.deletePrefix(runPrefix(run));
      const budget = Math.min(perRun, options.faults - injected);
      const t0 = Date.now();
      const runId = await startPipeline(s, workflowId, input);
      let done = false;
      const result = waitResult(s, workflowId, runId, Date.now() + Math.max(600_000, baseline.seconds * 8_000)).finally(() => {
        done = true;
      });
      const faults: FaultKind[] = [];
      const gap = (baseline.seconds * 1000) / (budget + 1);
      while (!done && faults.length < budget) {
        const wait = Math.floor(gap * (0.3 + rng.next()));
        const until = Date.now() + wait;
        while (!done && Date.now() < until) await sleep(Math.min(250, until - Date.now()));
        if (done) break;
        const kind = rng.pick(kinds);
        faults.push(kind);
        faultsByKind[kind] += 1;
        injected += 1;
        log(`run ${i + 1} (seed ${seed}) +${round1((Date.now() - t0) / 1000)} s: ${kind}`);
        await injectFault(s, kind, rng);
      }
      const outcome = await result;
      const seconds = (Date.now() - t0) / 1000;
      if ((await codeFingerprint(s.codeDir)) !== s.fingerprint) throw new Error(`the code snapshot ${s.codeDir} changed during the session`);
      const artifacts = await collectArtifacts(s.store, run);
      const cmp = compareArtifacts(baseline.artifacts, artifacts);
      const retries = await retryStats(s.client, workflowId, runId).catch(() => null);
      const report: RunReport = {
        run: i + 1,
        seed,
        completed: outcome.ok,
        ...(outcome.error ? { error: outcome.error } : {}),
        faults,
        seconds: round1(seconds),
        faultFreeSeconds: round1(baseline.seconds),
        workRedoneSeconds: round1(Math.max(0, seconds - baseline.seconds)),
        retries,
        differences: outcome.ok ? cmp.differences : [],
        corrupt: artifacts.corrupt,
        orphans: artifacts.orphans.length,
        missingRows: outcome.ok ? cmp.missingRows : 0,
        duplicateRows: outcome.ok ? cmp.duplicateRows : 0,
      };
      details.push(report);
      log(
        `run ${i + 1} (seed ${seed}): ${outcome.ok ? 'completed' : `FAILED (${outcome.error})`} in ${report.seconds} s with ${faults.length} faults; ` +
          `${report.differences.length} differences, ${report.corrupt.length} corrupt, ${report.orphans} orphans, retries ${retries?.activityRetries ?? '?'}`,
      );
      for (const d of [...report.differences, ...report.corrupt].slice(0, 20)) log(`  difference: ${d}`);
    }
  } finally {
    const proxyStats = { requests: s.proxy.stats.requests, injected: Object.values(s.proxy.stats.injected).reduce((a, b) => a + b, 0) };
    const restarts = { control: s.pool.starts.control - 1, inference: s.pool.starts.inference - 1, train: s.pool.starts.train - 1 };
    const unexpected = s.pool.unexpectedExits.length;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await closeSession(s, options.keepData ?? false);
    summaryExtras = { proxyStats, restarts, unexpected };
  }
  const redone = details.map((d) => d.workRedoneSeconds);
  return {
    runs: details.length,
    faultsByKind,
    runsCompleted: details.filter((d) => d.completed).length,
    artifactDifferences: details.reduce((n, d) => n + d.differences.length, 0),
    workRedone: { maxSeconds: round1(Math.max(0, ...redone)), medianSeconds: round1(median(redone)) },
    retries: {
      activityRetries: details.reduce((n, d) => n + (d.retries?.activityRetries ?? 0), 0),
      workflowTaskFailures: details.reduce((n, d) => n + (d.retries?.workflowTaskFailures ?? 0), 0),
      s3Requests: summaryExtras.proxyStats.requests,
      s3FaultsInjected: summaryExtras.proxyStats.injected,
    },
    uncommittedVisible: details.reduce((n, d) => n + d.corrupt.length, 0),
    missingRows: details.reduce((n, d) => n + d.missingRows, 0),
    duplicateRows: details.reduce((n, d) => n + d.duplicateRows, 0),
    orphanObjects: details.reduce((n, d) => n + d.orphans, 0),
    workerRestarts: summaryExtras.restarts,
    unexpectedWorkerExits: summaryExtras.unexpected,
    details,
  };
}

let summaryExtras = { proxyStats: { requests: 0, injected: 0 }, restarts: { control: 0, inference: 0, train: 0 }, unexpected: 0 };

/** True when every run completed with artifacts identical to the fault-free run and nothing corrupt. */
export function chaosPassed(s: ChaosSummary): boolean {
  return s.runs > 0 && s.runsCompleted === s.runs && s.artifactDifferences === 0 && s.uncommittedVisible === 0 && s.missingRows === 0 && s.duplicateRows === 0;
}
