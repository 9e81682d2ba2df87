// The worker process: one Temporal Worker per task queue, all in one process.
//
//   npm run worker -- --queues control,inference,train      (default: all three = the all-in-one dev worker)
//   RLHF_WORKER_QUEUES=inference npm run worker               (an inference-only worker)
//
// rlhf-control runs the workflows (workflows/index.ts) and the light control activities; rlhf-inference and
// rlhf-train run activities only, so a long engine call never delays workflow tasks. SIGINT/SIGTERM stop
// polling and give in-flight activities RLHF_SHUTDOWN_GRACE to finish.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { RlhfActivities } from '../activities/types';
import { connectWorker } from '../shared/client';
import { dataConverterFromEnv } from '../shared/codec';
import { ConfigError, loadConfig, parseQueueRoles, type QueueRole, type RlhfConfig } from '../shared/config';
import { installRuntimeLogger } from '../shared/log';
import { ArtifactStore } from '../shared/store';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** A worker cannot start (missing code, bad flags). One line. */
export class WorkerStartError extends Error {
  override name = 'WorkerStartError';
}

export interface CreateWorkersOptions {
  config: RlhfConfig;
  /** Queues to poll (default config.worker.roles). */
  roles?: QueueRole[];
  /** Default: connect with config.temporal. The caller keeps ownership of a connection it passes. */
  connection?: NativeConnection;
  /** Default: ArtifactStore.fromConfig(config). */
  store?: ArtifactStore;
  /** Default: createActivities({ store, config }) from activities/index.ts. */
  activities?: Partial<{ [K in keyof RlhfActivities]: object }>;
  /** Default: workflows/index.ts. Tests pass a prebuilt bundle instead. */
  workflowsPath?: string;
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Extra Worker options for every queue (e.g. identity). */
  workerOptions?: Partial<WorkerOptions>;
}

export interface RlhfWorkers {
  workers: Array<{ role: QueueRole; taskQueue: string; worker: Worker }>;
  connection: NativeConnection;
  /** Runs every worker until they all stop (a signal or `shutdown()`); closes an owned connection. */
  run(): Promise<void>;
  /** Starts a graceful shutdown of every worker. */
  shutdown(): void;
}

/** Activity tasks a worker of `role` holds: those running, plus the prefetched ones on rlhf-inference. */
export function activitySlots(config: RlhfConfig, role: QueueRole): number {
  return config.worker.maxConcurrentActivities[role] + (role === 'inference' ? config.worker.inferencePrefetch : 0);
}

/** Creates one Worker per requested queue on one connection. */
export async function createWorkers(options: CreateWorkersOptions): Promise<RlhfWorkers> {
  const { config } = options;
  const roles = options.roles ?? config.worker.roles;
  const ownsConnection = options.connection === undefined;
  const connection = options.connection ?? (await connectWorker(config));
  try {
    const store = options.store ?? ArtifactStore.fromConfig(config);
    const activities = options.activities ?? createActivities({ store, config });
    const payloadConverter = dataConverterFromEnv();
    const workers: RlhfWorkers['workers'] = [];
    for (const role of roles) {
      const taskQueue = config.queues[role];
      const roleActivities = activities[role];
      if (!roleActivities) throw new WorkerStartError(`no activities for the ${role} queue (createActivities must return { control, inference, train })`);
      const base: WorkerOptions = {
        connection,
        namespace: config.temporal.namespace,
        taskQueue,
        activities: roleActivities,
        shutdownGraceTime: config.worker.shutdownGraceTime as WorkerOptions['shutdownGraceTime'],
        maxConcurrentActivityTaskExecutions: activitySlots(config, role),
        // Payload encryption when RLHF_PAYLOAD_KEY is set (shared/codec); workerOptions.dataConverter overrides.
        ...(payloadConverter ? { dataConverter: payloadConverter } : {}),
        ...options.workerOptions,
      };
      if (role === 'control') {
        if (options.workflowBundle) {
          base.workflowBundle = options.workflowBundle;
        } else {
          const workflowsPath = options.workflowsPath ?? WORKFLOWS_PATH;
          if (!existsSync(workflowsPath)) throw new WorkerStartError(`workflows not found: ${workflowsPath} does not exist`);
          base.workflowsPath = workflowsPath;
        }
        base.maxCachedWorkflows = config.worker.maxCachedWorkflows;
      }
      workers.push({ role, taskQueue, worker: await Worker.create(base) });
    }
    return {
      workers,
      connection,
      async run() {
        try {
          await Promise.all(workers.map((w) => w.worker.run()));
        } finally {
          if (ownsConnection) await connection.close();
        }
      },
      shutdown() {
        for (const w of workers) if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
      },
    };
  } catch (err) {
    if (ownsConnection) await connection.close();
    throw err;
  }
}

/** Parses `--queues a,b` / `--queues=a,b` (falls back to RLHF_WORKER_QUEUES, then all three). */
export function parseWorkerArgs(argv: string[]): { roles?: QueueRole[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--queues' || arg.startsWith('--queues=')) {
      const value = arg === '--queues' ? argv[i + 1] : arg.slice('--queues='.length);
      if (!value) throw new ConfigError('--queues', '--queues needs a value: a comma-separated subset of control,inference,train');
      return { roles: parseQueueRoles(value, '--queues') };
    }
    if (arg === '--help' || arg === '-h') throw new WorkerStartError('usage: npm run worker -- [--queues control,inference,train]');
    throw new WorkerStartError(`unknown argument '${arg}': usage: npm run worker -- [--queues control,inference,train]`);
  }
  return {};
}

/** RLHF_WORKFLOW_BUNDLE=/path: a workflow bundle prebuilt by deploy/docker/bundle-workflows.ts (the images set it). */
export function workflowBundleFromEnv(env: Record<string, string | undefined> = process.env): WorkerOptions['workflowBundle'] | undefined {
  const codePath = env.RLHF_WORKFLOW_BUNDLE;
  if (!codePath) return undefined;
  if (!existsSync(codePath)) throw new ConfigError('RLHF_WORKFLOW_BUNDLE', `invalid RLHF_WORKFLOW_BUNDLE='${codePath}': no such file (build it with npx tsx deploy/docker/bundle-workflows.ts)`);
  return { codePath };
}

/** Starts the workers for `roles` and runs them until a signal; logs one line per queue. */
export async function runWorkers(config: RlhfConfig, roles: QueueRole[] = config.worker.roles): Promise<void> {
  installRuntimeLogger(config.worker.logLevel);
  const store = ArtifactStore.fromConfig(config);
  await store.checkBucket();
  const workflowBundle = workflowBundleFromEnv();
  const workers = await createWorkers({ config, roles, store, ...(workflowBundle ? { workflowBundle } : {}) });
  for (const w of workers.workers) {
    const limit = config.worker.maxConcurrentActivities[w.role];
    const held = w.role === 'inference' && config.worker.inferencePrefetch > 0 ? ` + ${config.worker.inferencePrefetch} prefetched` : '';
    console.log(`worker polling ${w.taskQueue} (${w.role === 'control' ? 'workflows + ' : ''}activities, ${limit} concurrent${held}) on ${config.temporal.address}/${config.temporal.namespace}`);
  }
  console.log(`Ctrl-C stops the worker (in-flight activities get ${config.worker.shutdownGraceTime} to finish)`);
  await workers.run();
}

async function main(): Promise<void> {
  const { roles } = parseWorkerArgs(process.argv.slice(2));
  const config = loadConfig();
  await runWorkers(config, roles ?? config.worker.roles);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
