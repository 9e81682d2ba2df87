// Orchestration overhead: a small rlhfPipeline end to end (real engine, real S3, a private stack on free
// ports, one in-process worker per queue), then from the histories of the pipeline and all its children
// (and continued-as-new runs): time spent inside activities = the union of ActivityTaskStarted → Completed
// (or Failed / TimedOut) intervals, parallel activities merged. Overhead = wall time − that union, as a
// fraction of wall time (goal ≤ 1%). The gaps are attributed to what the run was waiting for: an activity's
// queue wait (Scheduled → Started: worker polling), a child workflow's start, or workflow tasks in between.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../activities';
import { chaosRecipe } from '../chaos/harness';
import { connectClient } from '../shared/client';
import { loadConfig } from '../shared/config';
import { ArtifactStore } from '../shared/store';
import { stackDown, stackEnv, stackOptions, stackUp } from '../scripts/stack';
import { ensureTools } from '../scripts/tools';
import { freePort } from '../test/helpers/ports';
import { createWorkers } from '../workers/main';
import type { BenchContext } from './run';

type Ms = number;
interface Interval {
  start: Ms;
  end: Ms;
}
interface ActivitySpan extends Interval {
  type: string;
  workflowId: string;
  scheduled: Ms;
}

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): Ms =>
  t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : NaN;

/** Total length of the union of intervals, clipped to [from, to]. */
export function unionLength(intervals: Interval[], from: Ms, to: Ms): Ms {
  const xs = intervals
    .map((i) => ({ start: Math.max(from, i.start), end: Math.min(to, i.end) }))
    .filter((i) => i.end > i.start)
    .sort((a, b) => a.start - b.start);
  let total = 0;
  let cur: Interval | null = null;
  for (const i of xs) {
    if (cur && i.start <= cur.end) cur.end = Math.max(cur.end, i.end);
    else {
      if (cur) total += cur.end - cur.start;
      cur = { ...i };
    }
  }
  if (cur) total += cur.end - cur.start;
  return total;
}

/** The gaps of [from, to] not covered by any interval. */
export function gaps(intervals: Interval[], from: Ms, to: Ms): Interval[] {
  const xs = [...intervals].sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  let at = from;
  for (const i of xs) {
    if (i.start > at) out.push({ start: at, end: Math.min(i.start, to) });
    at = Math.max(at, i.end);
    if (at >= to) break;
  }
  if (at < to) out.push({ start: at, end: to });
  return out.filter((g) => g.end > g.start);
}

interface Walk {
  activities: ActivitySpan[];
  childStarts: Interval[];
  workflowTasks: Interval[];
  workflows: number;
  events: number;
  start: Ms;
  end: Ms;
}

/** Activity spans, child-start waits and workflow-task spans of a workflow and all its descendants. */
export async function walkHistories(client: Client, workflowId: string, runId: string): Promise<Walk> {
  const w: Walk = { activities: [], childStarts: [], workflowTasks: [], workflows: 0, events: 0, start: NaN, end: NaN };
  const queue = [{ workflowId, runId }];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const next = queue.shift() as { workflowId: string; runId: string };
    if (seen.has(next.runId)) continue;
    seen.add(next.runId);
    w.workflows += 1;
    const history = await client.workflow.getHandle(next.workflowId, next.runId).fetchHistory();
    const byId = new Map<number, { time: Ms; type?: string; started?: Ms }>();
    for (const ev of history.events ?? []) {
      w.events += 1;
      const id = Number(ev.eventId);
      const time = ms(ev.eventTime as { seconds?: unknown; nanos?: number });
      if (next.workflowId === workflowId && next.runId === runId && ev.workflowExecutionStartedEventAttributes) w.start = time;
      if (ev.activityTaskScheduledEventAttributes) byId.set(id, { time, type: ev.activityTaskScheduledEventAttributes.activityType?.name ?? '?' });
      if (ev.workflowTaskScheduledEventAttributes) byId.set(id, { time });
      const st = ev.activityTaskStartedEventAttributes;
      if (st) {
        const s = byId.get(Number(st.scheduledEventId));
        if (s) s.started = time;
      }
      const done =
        ev.activityTaskCompletedEventAttributes ?? ev.activityTaskFailedEventAttributes ?? ev.activityTaskTimedOutEventAttributes ?? ev.activityTaskCanceledEventAttributes;
      if (done) {
        const s = byId.get(Number(done.scheduledEventId));
        if (s?.started !== undefined) w.activities.push({ type: s.type ?? '?', workflowId: next.workflowId, scheduled: s.time, start: s.started, end: time });
      }
      const wts = ev.workflowTaskStartedEventAttributes;
      if (wts) byId.set(-id, { time });
      const wtc = ev.workflowTaskCompletedEventAttributes;
      if (wtc) {
        const s = byId.get(-Number(wtc.startedEventId));
        if (s) w.workflowTasks.push({ start: s.time, end: time });
      }
      const initiated = ev.startChildWorkflowExecutionInitiatedEventAttributes;
      if (initiated) byId.set(id, { time });
      const childStarted = ev.childWorkflowExecutionStartedEventAttributes;
      if (childStarted) {
        const s = byId.get(Number(childStarted.initiatedEventId));
        if (s) w.childStarts.push({ start: s.time, end: time });
        const ex = childStarted.workflowExecution;
        if (ex?.workflowId && ex.runId) queue.push({ workflowId: ex.workflowId, runId: ex.runId });
      }
      const cont = ev.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (cont) queue.push({ workflowId: next.workflowId, runId: cont });
      if (next.workflowId === workflowId && (ev.workflowExecutionCompletedEventAttributes || ev.workflowExecutionFailedEventAttributes)) w.end = time;
    }
  }
  return w;
}

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const iterations = Number(process.env.BENCH_ORCH_ITERATIONS ?? 2);
  await ensureTools({ log: ctx.log });
  const dataDir = await mkdtemp(join(tmpdir(), 'durable-rlhf-bench-orch-'));
  const options = stackOptions(
    {
      dataDir,
      temporalPort: await freePort(),
      uiPort: null,
      s3Port: await freePort(),
      bucket: 'durable-rlhf-bench',
      credentials: { accessKeyId: 'rlhf-bench', secretAccessKey: 'rlhf-bench-secret' },
      ownerPid: process.pid,
    },
    process.env,
  );
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // installed already
  }
  const info = await stackUp(options);
  const config = loadConfig({ ...process.env, ...stackEnv(info), RLHF_PAYLOAD_KEY: '' });
  const store = ArtifactStore.fromConfig(config);
  let client: Client | undefined;
  let workers: Awaited<ReturnType<typeof createWorkers>> | undefined;
  let running: Promise<void> | undefined;
  try {
    await store.ensureBucket();
    ctx.log(`orchestration: private stack Temporal ${info.temporalAddress}, S3 ${info.s3Endpoint}; bundling workflows`);
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: new URL('../workflows/index.ts', import.meta.url).pathname, logger: new DefaultLogger('WARN') });
    workers = await createWorkers({ config, workflowBundle, store, activities: createActivities({ store, config, scratchDir: join(dataDir, 'scratch') }) });
    running = workers.run();
    client = await connectClient(config);
    const recipe = chaosRecipe(7, iterations);
    const runName = 'bench-orchestration';
    const input = { run: runName, ...recipe, execution: { ...recipe.execution, searchAttributes: false, taskQueues: config.queues } };
    const t0 = Date.now();
    const handle = await client.workflow.start('rlhfPipeline', { taskQueue: config.queues.control, workflowId: runName, args: [input] });
    await handle.result();
    const clientWallMs = Date.now() - t0;
    const w = await walkHistories(client, runName, handle.firstExecutionRunId);
    const wallMs = w.end - w.start;
    const inside = unionLength(w.activities, w.start, w.end);
    const overheadMs = wallMs - inside;
    const holes = gaps(w.activities, w.start, w.end);
    // What the holes were spent on: activities waiting in a queue, children starting, workflow tasks running.
    const queueWait = w.activities.map((a) => ({ start: a.scheduled, end: a.start }));
    const within = (xs: Interval[]): number => holes.reduce((n, g) => n + unionLength(xs, g.start, g.end), 0);
    const byType: Record<string, { count: number; seconds: number; queueWaitMs: number }> = {};
    for (const a of w.activities) {
      const t = (byType[a.type] ??= { count: 0, seconds: 0, queueWaitMs: 0 });
      t.count += 1;
      t.seconds = round(t.seconds + (a.end - a.start) / 1000, 3);
      t.queueWaitMs += a.start - a.scheduled;
    }
    const largest = [...holes]
      .sort((a, b) => b.end - b.start - (a.end - a.start))
      .slice(0, 8)
      .map((g) => {
        const before = w.activities.filter((a) => a.end <= g.start).sort((a, b) => b.end - a.end)[0];
        const after = w.activities.filter((a) => a.start >= g.end).sort((a, b) => a.start - b.start)[0];
        return { ms: g.end - g.start, atSeconds: round((g.start - w.start) / 1000, 2), after: before ? `${before.workflowId.split('/').at(-1)}:${before.type}` : 'start', before: after ? `${after.workflowId.split('/').at(-1)}:${after.type}` : 'end' };
      });
    const result = {
      recipe: { iterations, promptsPerIteration: recipe.online?.promptsPerIteration, k: recipe.online?.k, shardSize: recipe.execution?.shardSize, model: 'demo tiny (hidden 32, 1 layer)' },
      wallSeconds: round(wallMs / 1000, 2),
      clientWallSeconds: round(clientWallMs / 1000, 2),
      insideActivitiesSeconds: round(inside / 1000, 2),
      overheadSeconds: round(overheadMs / 1000, 2),
      overheadFraction: round(overheadMs / wallMs, 4),
      goalFraction: 0.01,
      activities: w.activities.length,
      overheadPerActivityMs: round(overheadMs / Math.max(1, w.activities.length), 1),
      overheadBreakdownMs: {
        activityQueueWait: within(queueWait),
        childWorkflowStart: within(w.childStarts),
        workflowTasks: within(w.workflowTasks),
      },
      workflows: w.workflows,
      historyEvents: w.events,
      largestGaps: largest,
      byActivity: byType,
      host: { cores: cpus().length, loadAverage1m: round(loadavg()[0] ?? 0, 2) },
    };
    ctx.log(`orchestration: wall ${result.wallSeconds} s, inside activities ${result.insideActivitiesSeconds} s, overhead ${(result.overheadFraction * 100).toFixed(1)}%`);
    return result;
  } finally {
    workers?.shutdown();
    await running?.catch(() => undefined);
    await client?.connection.close().catch(() => undefined);
    store.s3.destroy();
    await stackDown(options);
    await rm(dataDir, { recursive: true, force: true });
  }
}
