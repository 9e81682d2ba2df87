// The control surface every RLHF workflow shares: `status` / `metrics` queries, `pause` / `resume` /
// `stopAfterIteration` signals, the validated `setNextIterationOptions` update, live details (markdown) and
// typed search attributes. A parent forwards pause/resume/stop/option changes to its running child, and
// every child reports progress to the root workflow (the one the user started), so the root's status and
// details show the whole run.
import {
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  setHandler,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { ErrorType } from '../shared/errors';
import {
  applyNextIterationOptionsSignal,
  DESCRIPTIONS,
  metricsQuery,
  pauseSignal,
  progressSignal,
  resumeSignal,
  setNextIterationOptionsUpdate,
  statusQuery,
  stopAfterIterationSignal,
  type IterationMetrics,
  type ProgressReport,
  type RunStatus,
  type StageName,
} from '../shared/messages';
import { applyNextIterationOptions, nextIterationOptionsProblems, type NextIterationOptions, type OnlineOptions } from '../shared/recipe';
import { RlhfBestReward, RlhfBeta, RlhfIteration, RlhfLearningRate, RlhfRun, RlhfStage } from '../shared/search-attributes';
import { renderDetails } from './details';
import { hasPatch } from './patches';

export interface ControlInit {
  workflow: string;
  run: string;
  iterations: number;
  /** Root workflow id to report progress to; null when this workflow is the root. */
  root: string | null;
  searchAttributes: boolean;
  paused?: boolean;
  stopAfterIteration?: number | null;
  metrics?: IterationMetrics[];
}

export interface ControlHooks {
  /** Online options the update validates against (k/temperatures); undefined → updates are rejected. */
  onlineOptions?: () => OnlineOptions | undefined;
  /** Called with an accepted change; returns the iteration it first applies to. */
  onOptions?: (change: NextIterationOptions) => number | Promise<number>;
  /** Pending (accepted, not yet applied) changes for status. */
  pending?: () => NextIterationOptions | null;
}

export class RunControl {
  readonly status: RunStatus;
  readonly metrics: IterationMetrics[];
  private child: ChildWorkflowHandle<any> | null = null;
  private readonly sent = new Map<string, string | number>();
  /** Progress signals to the root still in flight (sent one after another; before patch `progress-reports-coalesced`). */
  private reporting: Promise<void> = Promise.resolve();
  /** The progress signal to the root in flight (patch `progress-reports-coalesced`), and the reports waiting for it. */
  private inFlight: Promise<void> | null = null;
  private readonly queued: Array<Omit<ProgressReport, 'from'>> = [];
  /** `unsent` reports not yet carried to the root by a later one. */
  private held: Omit<ProgressReport, 'from'> | null = null;
  /** Search attributes changed in this stretch of a workflow task, upserted together (patch `search-attributes-coalesced`). */
  private upserts: Map<string, SearchAttributeUpdatePair> | null = null;
  private coalesceUpserts: boolean | null = null;

  constructor(
    private readonly init: ControlInit,
    private readonly hooks: ControlHooks = {},
  ) {
    this.metrics = [...(init.metrics ?? [])];
    const last = this.metrics.at(-1) ?? null;
    this.status = {
      workflow: init.workflow,
      run: init.run,
      stage: 'starting',
      paused: init.paused ?? false,
      iteration: 0,
      iterations: init.iterations,
      step: null,
      shards: null,
      stopAfterIteration: init.stopAfterIteration ?? null,
      pendingOptions: null,
      lastMetrics: last,
      bestReward: bestOf(this.metrics),
      activeChild: null,
      models: { sft: null, reward: null, policy: last?.policy ?? null },
    };
  }

  get paused(): boolean {
    return this.status.paused;
  }

  get stopAfterIteration(): number | null {
    return this.status.stopAfterIteration;
  }

  /** Installs every handler. Call first thing in the workflow. */
  install(): this {
    setHandler(statusQuery, () => ({ ...this.status, pendingOptions: this.hooks.pending?.() ?? null }), { description: DESCRIPTIONS.status });
    setHandler(metricsQuery, () => this.metrics, { description: DESCRIPTIONS.metrics });
    setHandler(
      pauseSignal,
      async () => {
        this.status.paused = true;
        this.refresh();
        await this.forward((h) => h.signal(pauseSignal));
      },
      { description: DESCRIPTIONS.pause },
    );
    setHandler(
      resumeSignal,
      async () => {
        this.status.paused = false;
        this.refresh();
        await this.forward((h) => h.signal(resumeSignal));
      },
      { description: DESCRIPTIONS.resume },
    );
    setHandler(
      stopAfterIterationSignal,
      async (iteration?: number) => {
        const n = typeof iteration === 'number' && Number.isInteger(iteration) && iteration >= 1 ? iteration : Math.max(1, this.status.iteration);
        this.status.stopAfterIteration = n;
        this.refresh();
        await this.forward((h) => h.signal(stopAfterIterationSignal, n));
      },
      { description: DESCRIPTIONS.stopAfterIteration },
    );
    setHandler(
      setNextIterationOptionsUpdate,
      async (change: NextIterationOptions) => {
        const applies = (await this.hooks.onOptions?.(change)) ?? this.status.iteration + 1;
        this.refresh();
        return { appliesFromIteration: applies, pending: this.hooks.pending?.() ?? change };
      },
      {
        description: DESCRIPTIONS.setNextIterationOptions,
        validator: (change: NextIterationOptions) => {
          const current = this.hooks.onlineOptions?.();
          if (!current || !this.hooks.onOptions) {
            throw ApplicationFailure.nonRetryable(`${this.init.workflow} has no iterations to change`, ErrorType.InvalidOptions);
          }
          if (['completed', 'stopped', 'failed', 'summary'].includes(this.status.stage)) {
            throw ApplicationFailure.nonRetryable(`the online loop of run '${this.init.run}' has finished; nothing left to change`, ErrorType.InvalidOptions);
          }
          const problems = nextIterationOptionsProblems(change, current);
          if (problems.length > 0) throw ApplicationFailure.nonRetryable(`setNextIterationOptions rejected: ${problems.join('; ')}`, ErrorType.InvalidOptions);
        },
      },
    );
    setHandler(applyNextIterationOptionsSignal, async (change: NextIterationOptions) => {
      const current = this.hooks.onlineOptions?.();
      if (current && this.hooks.onOptions && nextIterationOptionsProblems(change, current).length === 0) await this.hooks.onOptions(change);
      this.refresh();
    });
    setHandler(progressSignal, (report: ProgressReport) => this.apply(report), { description: DESCRIPTIONS.progress });
    this.upsert({ run: this.init.run });
    this.refresh();
    return this;
  }

  /** Waits while paused (a step boundary). */
  async gate(): Promise<void> {
    if (!this.status.paused) return;
    // While paused the root should show where this workflow stopped: send what was held back.
    const root = this.init.root;
    if (this.held !== null && root) {
      this.enqueue(this.held);
      this.held = null;
      this.pump(root);
    }
    await condition(() => !this.status.paused);
  }

  /** Records the running child (or null) and sends it the current pause/stop state. */
  async setChild(handle: ChildWorkflowHandle<any> | null, pending?: NextIterationOptions | null): Promise<void> {
    this.child = handle;
    this.status.activeChild = handle?.workflowId ?? null;
    this.refresh();
    if (!handle) return;
    if (this.status.paused) await this.forward((h) => h.signal(pauseSignal));
    if (this.status.stopAfterIteration !== null) {
      const n = this.status.stopAfterIteration;
      await this.forward((h) => h.signal(stopAfterIterationSignal, n));
    }
    if (pending) await this.forward((h) => h.signal(applyNextIterationOptionsSignal, pending));
  }

  /** Forwards a change to the running child; a child that just finished is ignored. */
  async forwardOptions(change: NextIterationOptions): Promise<boolean> {
    if (!this.child) return false;
    await this.forward((h) => h.signal(applyNextIterationOptionsSignal, change));
    return true;
  }

  /**
   * Updates this workflow's status and tells the root.
   *
   * Since patch `progress-reports-in-background` the signal to the root goes out in the background (in
   * order) and the workflow goes on at once: an awaited signal cost a workflow-task round trip before the next
   * activity on every report. `flush: true` waits until this and every earlier report reached the root.
   *
   * Since patch `progress-reports-coalesced` at most one signal is in flight: reports made meanwhile are
   * merged into one (later fields win; two iterations' metrics are never merged), because every signal costs
   * a workflow task in this workflow (ExternalWorkflowExecutionSignaled) and one in the root, and those tasks
   * delay the task that schedules the next activity when they run at the same time. And `unsent: true` then
   * only updates this workflow's own status, for a report the root learns otherwise: from the parent (a
   * child's last report, which would otherwise have to be waited for before the child may complete: a
   * workflow must not close with a signal in flight), or from the next report, sent in the same workflow task
   * (a step whose commands only leave with the next step's, e.g. around a local activity): such a report is
   * held and merged into the next one sent (or sent by `gate()` when the workflow pauses). Before that patch
   * `unsent` reports are sent like the others.
   */
  async report(report: Omit<ProgressReport, 'from'>, options: { flush?: boolean; unsent?: boolean } = {}): Promise<void> {
    this.apply({ ...report, from: workflowInfo().workflowId });
    const root = this.init.root;
    if (!root) return;
    if (!hasPatch('progress-reports-in-background')) {
      await this.send(root, report);
      return;
    }
    if (!hasPatch('progress-reports-coalesced')) {
      this.reporting = this.reporting.then(() => this.send(root, report));
      if (options.flush) await this.reporting;
      return;
    }
    if (options.unsent) {
      // Held back: it goes out merged into the next report that is sent, or from gate() before a pause.
      this.held = this.held === null ? report : (mergeReports(this.held, report) ?? report);
      return;
    }
    let next = report;
    if (this.held !== null) {
      const both = mergeReports(this.held, report);
      if (both) next = both;
      else this.enqueue(this.held);
      this.held = null;
    }
    this.enqueue(next);
    this.pump(root);
    if (options.flush) await this.flushReports();
  }

  /** Updates this workflow's own status only; the root hears of it from elsewhere (e.g. from a child). */
  showLocally(report: Omit<ProgressReport, 'from'>): void {
    this.apply({ ...report, from: workflowInfo().workflowId });
  }

  /** Queues a report behind the one in flight, merged into the last queued one when possible. */
  private enqueue(report: Omit<ProgressReport, 'from'>): void {
    const last = this.queued.at(-1);
    const both = last ? mergeReports(last, report) : null;
    if (both) this.queued[this.queued.length - 1] = both;
    else this.queued.push(report);
  }

  private async send(root: string, report: Omit<ProgressReport, 'from'>): Promise<void> {
    try {
      await getExternalWorkflowHandle(root).signal(progressSignal, { ...report, from: workflowInfo().workflowId });
    } catch {
      // The root may have been closed (e.g. a child started alone under an old root id): progress is advisory.
    }
  }

  /** Sends the next queued report when none is in flight. */
  private pump(root: string): void {
    if (this.inFlight) return;
    const next = this.queued.shift();
    if (!next) return;
    this.inFlight = this.send(root, next).then(() => {
      this.inFlight = null;
      this.pump(root);
    });
  }

  /** Waits until every progress report so far reached the root (returns at once when none is in flight). */
  async flushReports(): Promise<void> {
    await this.reporting;
    while (this.inFlight) await this.inFlight;
  }

  /** Sets this workflow's own stage (not reported: the root tracks its own stages). */
  setStage(stage: StageName): void {
    this.apply({ stage, from: workflowInfo().workflowId });
  }

  private apply(report: ProgressReport): void {
    const s = this.status;
    if (report.stage !== undefined) s.stage = report.stage;
    if (report.iteration !== undefined) s.iteration = report.iteration;
    if (report.step !== undefined) s.step = report.step;
    if (report.shards !== undefined) s.shards = report.shards;
    if (report.models) s.models = { ...s.models, ...Object.fromEntries(Object.entries(report.models).filter(([, v]) => v !== undefined)) };
    if (report.metrics) {
      const m = report.metrics;
      const at = this.metrics.findIndex((x) => x.iteration === m.iteration);
      if (at >= 0) this.metrics[at] = m;
      else this.metrics.push(m);
      this.metrics.sort((a, b) => a.iteration - b.iteration);
      s.lastMetrics = m;
      s.bestReward = bestOf(this.metrics);
      if (m.iteration > 0) s.models.policy = m.policy;
    }
    this.refresh();
  }

  /** Re-renders the details and upserts changed search attributes. */
  refresh(): void {
    const s = this.status;
    setCurrentDetails(renderDetails(s, this.metrics, this.hooks.pending?.() ?? null));
    const last = this.metrics.filter((m) => m.iteration > 0).at(-1);
    const online = this.hooks.onlineOptions?.();
    this.upsert({
      stage: s.stage,
      iteration: s.iteration > 0 ? s.iteration : undefined,
      beta: last?.beta ?? online?.beta,
      learningRate: last?.learningRate ?? online?.learningRate,
      bestReward: s.bestReward ?? undefined,
    });
  }

  private upsert(v: { run?: string; stage?: string; iteration?: number; beta?: number | null; learningRate?: number | null; bestReward?: number }): void {
    if (!this.init.searchAttributes) return;
    const pairs: SearchAttributeUpdatePair[] = [];
    const add = <T extends string | number>(name: string, value: T | null | undefined, pair: (x: T) => SearchAttributeUpdatePair) => {
      if (value === undefined || value === null || (typeof value === 'number' && !Number.isFinite(value))) return;
      if (this.sent.get(name) === value) return;
      this.sent.set(name, value);
      pairs.push(pair(value));
    };
    add(RlhfRun.name, v.run, (x) => ({ key: RlhfRun, value: x }));
    add(RlhfStage.name, v.stage, (x) => ({ key: RlhfStage, value: x }));
    add(RlhfIteration.name, v.iteration, (x) => ({ key: RlhfIteration, value: x }));
    add(RlhfBeta.name, v.beta, (x) => ({ key: RlhfBeta, value: x }));
    add(RlhfLearningRate.name, v.learningRate, (x) => ({ key: RlhfLearningRate, value: x }));
    add(RlhfBestReward.name, v.bestReward, (x) => ({ key: RlhfBestReward, value: x }));
    if (pairs.length === 0) return;
    // Since patch search-attributes-coalesced the changes made in one synchronous stretch of a workflow task (up to
    // its next await) go out as one command (install, the first status and the first stage were three upserts, each
    // an event, a visibility update on the server and, on Temporal Cloud, an action): sent from a microtask, after
    // the commands issued before it and before any later continuation, the workflow's completion included (later
    // changes of the same attribute win). A task that resumes after an await may send one more.
    this.coalesceUpserts ??= hasPatch('search-attributes-coalesced');
    if (!this.coalesceUpserts) {
      upsertSearchAttributes(pairs);
      return;
    }
    if (this.upserts === null) {
      this.upserts = new Map();
      void Promise.resolve().then(() => {
        const batch = [...(this.upserts?.values() ?? [])];
        this.upserts = null;
        if (batch.length > 0) upsertSearchAttributes(batch);
      });
    }
    for (const p of pairs) this.upserts.set(p.key.name, p);
  }

  private async forward(send: (h: ChildWorkflowHandle<any>) => Promise<void>): Promise<void> {
    const child = this.child;
    if (!child) return;
    try {
      await send(child);
    } catch {
      // The child completed between our bookkeeping and the signal; nothing left to control there.
    }
  }
}

/** One report with the fields of both (b's win), or null when both carry metrics (two iterations' rows). */
function mergeReports(a: Omit<ProgressReport, 'from'>, b: Omit<ProgressReport, 'from'>): Omit<ProgressReport, 'from'> | null {
  if (a.metrics && b.metrics) return null;
  const merged = { ...a, ...b };
  if (a.models || b.models) merged.models = { ...a.models, ...b.models };
  return merged;
}

function bestOf(metrics: IterationMetrics[]): number | null {
  const rewards = metrics.filter((m) => m.iteration > 0).map((m) => m.meanReward);
  return rewards.length > 0 ? Math.max(...rewards) : null;
}

/** Applies a change to online options (re-exported for workflows). */
export { applyNextIterationOptions };
