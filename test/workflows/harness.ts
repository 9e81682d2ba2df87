// Workflow-logic test harness: the real Temporal dev server from test/global-setup.ts, the real workflow
// bundle (built once per test file), and mock activities on three workers whose task queues are unique per
// test (passed to the workflows through `execution.taskQueues`).
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { temporal } from '@temporalio/proto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { RecipeInput } from '../../shared/recipe';
import { testServices, uniqueId } from '../helpers/services';
import { MockActivities } from './mock-activities';

let runtimeInstalled = false;

export async function bundleWorkflows(): Promise<WorkflowBundle> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  return bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
    logger: new DefaultLogger('WARN'),
  });
}

export interface Harness {
  client: Client;
  mocks: MockActivities;
  queues: { control: string; inference: string; train: string };
  /** Recipe input that routes every activity and child to this harness's queues, with fast retries. */
  recipe(extra?: RecipeInput): RecipeInput;
  id(label: string): string;
  close(): Promise<void>;
}

function deepMerge(a: any, b: any): any {
  if (typeof a !== 'object' || a === null || Array.isArray(a) || typeof b !== 'object' || b === null || Array.isArray(b)) return b === undefined ? a : b;
  const out: any = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = deepMerge(a[k], v);
  return out;
}

export async function startHarness(workflowBundle: WorkflowBundle): Promise<Harness> {
  const { temporalAddress } = testServices();
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const clientConnection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection: clientConnection });
  const mocks = new MockActivities();
  const acts = mocks.build();
  const queues = { control: uniqueId('wf-control'), inference: uniqueId('wf-inference'), train: uniqueId('wf-train') };
  const workers = await Promise.all([
    Worker.create({ connection, taskQueue: queues.control, workflowBundle, activities: acts.control, maxCachedWorkflows: 50 }),
    Worker.create({ connection, taskQueue: queues.inference, activities: acts.inference }),
    Worker.create({ connection, taskQueue: queues.train, activities: acts.train }),
  ]);
  const running = workers.map((w) => w.run());
  return {
    client,
    mocks,
    queues,
    recipe: (extra = {}) =>
      deepMerge(
        {
          online: { iterations: 2, promptsPerIteration: 8, k: 4 },
          execution: {
            shardSize: 4,
            inferenceWindow: 2,
            taskQueues: queues,
            timeouts: { control: '30s', inference: '30s', train: '30s', controlHeartbeat: '20s', inferenceHeartbeat: '20s', trainHeartbeat: '20s' },
            retry: { maximumAttempts: 2, initialInterval: '100ms', maximumInterval: '1s' },
          },
        },
        extra,
      ),
    id: (label) => uniqueId(`wf-${label}`),
    close: async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      await clientConnection.close();
      await connection.close();
    },
  };
}

/** The message of the innermost cause of a workflow's failure (activity and child failures nest inside it). */
export function rootCauseMessage(err: unknown): string | undefined {
  let cause = (err as { cause?: unknown } | null)?.cause as Error | undefined;
  while (cause?.cause) cause = cause.cause as Error;
  return cause?.message;
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const HISTORIES_DIR = fileURLToPath(new URL('./histories/', import.meta.url));

/** Writes a workflow history as a replay fixture `histories/<name>.json`. */
export async function saveHistory(name: string, workflowId: string, history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): Promise<void> {
  await mkdir(HISTORIES_DIR, { recursive: true });
  const message = temporal.api.history.v1.History.fromObject(history as object);
  await writeFile(`${HISTORIES_DIR}${name}.json`, `${JSON.stringify({ workflowId, history: message.toJSON() }, null, 1)}\n`);
}

/** Reads a fixture written by saveHistory. */
export function loadHistory(text: string): { workflowId: string; history: temporal.api.history.v1.IHistory } {
  const { workflowId, history } = JSON.parse(text) as { workflowId: string; history: object };
  return { workflowId, history: temporal.api.history.v1.History.fromObject(history) };
}
