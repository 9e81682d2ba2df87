// Inference prefetch: a worker may hold more inference tasks than it runs (RLHF_INFERENCE_PREFETCH). The extra
// ones wait here, first come first served, for a turn on the engine, so that when a shard finishes the next one
// starts at once instead of after a round trip to Temporal (report the result, free the slot, poll, match). While
// it waits a task heartbeats (the previous attempt's resume point, so a crash now loses nothing) and honours
// cancellation. Worth it only where this worker is the only one on its queue (npm run demo): elsewhere a task
// held here could have started at once on an idle worker.
import { cancellationSignal, heartbeat, resumeDetails, toFailure } from './support';

/** What a waiting task heartbeats when its previous attempt left no resume point. */
export const WAITING_DETAILS = { phase: 'waiting', for: 'an engine turn (prefetched)' } as const;

export interface TurnObserver {
  /** Called when a task gets its turn (bench/orchestration.ts times the engine's work from here). */
  (at: number): void;
}

export class EngineTurns {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  /** `slots`: tasks that run at once (RLHF_INFERENCE_CONCURRENCY). */
  constructor(
    readonly slots: number,
    private readonly options: { heartbeatEveryMs?: number; onTurn?: TurnObserver } = {},
  ) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`engine turns: slots must be an integer ≥ 1 (got ${slots})`);
  }

  /** Tasks running / waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Runs `work` in a turn: at once when a slot is free, else after the tasks that came first. */
  async run<T>(work: () => Promise<T>, activity = 'activity'): Promise<T> {
    try {
      await this.take();
    } catch (err) {
      throw toFailure(err, activity);
    }
    this.options.onTurn?.(Date.now());
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private async take(): Promise<void> {
    if (this.running < this.slots && this.waiting.length === 0) {
      this.running++;
      return;
    }
    const signal = cancellationSignal();
    const details = resumeDetails<Record<string, unknown>>() ?? WAITING_DETAILS;
    let wake!: () => void;
    const turn = new Promise<void>((resolve) => (wake = resolve));
    this.waiting.push(wake);
    heartbeat(details);
    const timer = setInterval(() => heartbeat(details), this.options.heartbeatEveryMs ?? 10_000);
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        // run() maps the reason as an activity body's error is mapped (toFailure): cancelled or interrupted.
        if (signal?.aborted) reject(signal.reason);
        onAbort = () => reject(signal?.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        turn.then(resolve, reject);
      });
    } catch (err) {
      const at = this.waiting.indexOf(wake);
      if (at >= 0) this.waiting.splice(at, 1);
      // Handed a turn in the same tick it was cancelled: pass it on.
      else this.release();
      throw err;
    } finally {
      clearInterval(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

/** Wraps each activity so that it runs in a turn. */
export function inTurns<A extends Record<string, (...args: never[]) => Promise<unknown>>>(turns: EngineTurns, activities: A): A {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [name, (...args: Parameters<typeof fn>) => turns.run(() => fn(...args), name)]),
  ) as A;
}
