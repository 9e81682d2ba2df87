// What every command shares: the configuration, a connected Temporal client (closed after the command), and
// the few names the CLI needs (workflow type, UI address).
import type { Client, WorkflowHandle } from '@temporalio/client';
import { closeClient, connectClient } from '../shared/client';
import { loadConfig, type RlhfConfig } from '../shared/config';
import { metricsQuery, statusQuery, type IterationMetrics, type RunStatus } from '../shared/messages';
import { CliError, oneLine } from './errors';
import { workflowUiUrl } from './format';

/** The user-facing workflow the CLI starts (workflows/pipeline.ts). */
export const PIPELINE_WORKFLOW = 'rlhfPipeline';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stdout: process.stdout,
};

export function config(): RlhfConfig {
  return loadConfig();
}

/** Web UI base address: $TEMPORAL_UI_URL, else the dev stack's http://127.0.0.1:8233. */
export function uiBase(env: NodeJS.ProcessEnv = process.env): string {
  return env.TEMPORAL_UI_URL || `http://${env.RLHF_STACK_HOST || '127.0.0.1'}:${env.RLHF_TEMPORAL_UI_PORT && env.RLHF_TEMPORAL_UI_PORT !== 'none' ? env.RLHF_TEMPORAL_UI_PORT : '8233'}`;
}

export function uiUrl(cfg: RlhfConfig, workflowId: string): string {
  return workflowUiUrl(uiBase(), cfg.temporal.namespace, workflowId);
}

/** Runs `fn` with a connected client and closes it afterwards. */
export async function withClient<T>(fn: (client: Client, cfg: RlhfConfig) => Promise<T>, cfg: RlhfConfig = config()): Promise<T> {
  const client = await connectClient(cfg);
  try {
    return await fn(client, cfg);
  } finally {
    await closeClient(client).catch(() => undefined);
  }
}

/** Workflow ids: letters, digits and . _ - / = (the run name defaults to the id, shared/layout.ts). */
export function checkWorkflowId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._=/-]{0,250}$/.test(id)) throw new CliError(`invalid workflow id '${id}': use letters, digits, '.', '_', '=', '-', '/'`);
  return id;
}

/** A handle that exists: describe() first so a wrong id is one clear line. */
export async function existingHandle(client: Client, id: string): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(id);
  try {
    await handle.describe();
  } catch (err) {
    if ((err as Error).name === 'WorkflowNotFoundError') throw new CliError(`workflow '${id}' not found in namespace '${client.options.namespace}'`);
    throw err;
  }
  return handle;
}

/** Whether any worker polled the workflow's task queue recently (queries need one to answer). */
export async function hasWorkflowWorker(client: Client, taskQueue: string): Promise<boolean> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  return (response.pollers ?? []).length > 0;
}

/** Fails with one line when no worker polls the workflow's task queue (instead of a query that times out). */
export async function requireWorker(client: Client, handle: WorkflowHandle): Promise<void> {
  const { taskQueue } = await handle.describe();
  if (!(await hasWorkflowWorker(client, taskQueue))) {
    throw new CliError(`no worker polls task queue '${taskQueue}', so '${handle.workflowId}' cannot answer queries: start one with \`durable-rlhf worker\``);
  }
}

/** A query answered by a worker within `ms`, else one line saying a worker must run. */
export async function queryWithin<T>(client: Client, handle: WorkflowHandle, run: () => Promise<T>, ms = 15_000): Promise<T> {
  try {
    return await client.connection.withDeadline(Date.now() + ms, run);
  } catch (err) {
    const text = oneLine(err);
    if (/deadline|timed? ?out|DEADLINE_EXCEEDED/i.test(text)) {
      throw new CliError(`no answer from workflow '${handle.workflowId}' within ${ms / 1000}s: is a worker running? (start one with \`durable-rlhf worker\`)`);
    }
    throw new CliError(`query to '${handle.workflowId}' failed: ${text}`);
  }
}

export const queryStatus = (client: Client, handle: WorkflowHandle, ms?: number): Promise<RunStatus> =>
  queryWithin(client, handle, () => handle.query(statusQuery), ms);
export const queryMetrics = (client: Client, handle: WorkflowHandle, ms?: number): Promise<IterationMetrics[]> =>
  queryWithin(client, handle, () => handle.query(metricsQuery), ms);

/** `rlhf-20261125-123456`: a readable default id. */
export function defaultRunId(now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `rlhf-${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
}
