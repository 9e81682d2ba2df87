import { MockActivityEnvironment } from '@temporalio/testing';
import { CancelledFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { EngineTurns, WAITING_DETAILS, inTurns } from './engine-turns';

/** A task that runs until its `finish()` is called, recording when it started. */
function held(log: string[], name: string): { work: () => Promise<string>; finish: () => void } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    work: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
    finish: () => finish(),
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('EngineTurns (inference prefetch)', () => {
  it('runs as many tasks as it has slots and the others in arrival order as slots free', async () => {
    const turns = new EngineTurns(1);
    const log: string[] = [];
    const [a, b, c] = [held(log, 'a'), held(log, 'b'), held(log, 'c')];
    const ra = turns.run(a.work);
    const rb = turns.run(b.work);
    const rc = turns.run(c.work);
    await tick();
    expect(log).toEqual(['start a']);
    expect(turns.load).toEqual({ running: 1, waiting: 2 });
    a.finish();
    await ra;
    await tick();
    expect(log).toEqual(['start a', 'end a', 'start b']);
    b.finish();
    c.finish();
    expect(await Promise.all([rb, rc])).toEqual(['b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(turns.load).toEqual({ running: 0, waiting: 0 });
  });

  it('runs two at once with two slots, and passes a turn on when a task fails', async () => {
    const turns = new EngineTurns(2);
    const log: string[] = [];
    const [a, b] = [held(log, 'a'), held(log, 'b')];
    const ra = turns.run(a.work);
    const rb = turns.run(b.work);
    const rc = turns.run(async () => {
      log.push('start c');
      throw new Error('c failed');
    });
    const rd = turns.run(async () => 'd');
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    a.finish();
    await expect(rc).rejects.toThrow('c failed');
    expect(await rd).toBe('d');
    b.finish();
    expect(await Promise.all([ra, rb])).toEqual(['a', 'b']);
    expect(turns.load).toEqual({ running: 0, waiting: 0 });
  });

  it('heartbeats while a task waits: the previous attempt’s resume point, so a crash then loses nothing', async () => {
    const turns = new EngineTurns(1, { heartbeatEveryMs: 5 });
    const log: string[] = [];
    const a = held(log, 'a');
    const ra = turns.run(a.work);
    const resume = { done: 32, total: 64, chunks: [], key: 'runs/r/iter-0001/generations/shard-0001/partial/chunk-000000.jsonl' };
    const env = new MockActivityEnvironment({ heartbeatDetails: resume });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const rb = env.run(() => turns.run(async () => 'b'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats.every((d) => JSON.stringify(d) === JSON.stringify(resume))).toBe(true);
    a.finish();
    await ra;
    expect(await rb).toBe('b');

    // A first attempt has no resume point: it says what it waits for.
    const c = held(log, 'c');
    const rc = turns.run(c.work);
    const fresh = new MockActivityEnvironment();
    const first: unknown[] = [];
    fresh.on('heartbeat', (d: unknown) => first.push(d));
    const rd = fresh.run(() => turns.run(async () => 'd'));
    await tick();
    expect(first[0]).toEqual(WAITING_DETAILS);
    c.finish();
    await rc;
    expect(await rd).toBe('d');
  });

  it('a task cancelled while it waits fails with CancelledFailure, leaves the queue and never runs', async () => {
    const turns = new EngineTurns(1);
    const log: string[] = [];
    const a = held(log, 'a');
    const ra = turns.run(a.work);
    const env = new MockActivityEnvironment();
    const rb = env.run(() =>
      turns.run(async () => {
        log.push('start b');
        return 'b';
      }, 'generateShard'),
    );
    const rc = turns.run(async () => 'c');
    await tick();
    expect(turns.load).toEqual({ running: 1, waiting: 2 });
    env.cancel('CANCELLED');
    await expect(rb).rejects.toBeInstanceOf(CancelledFailure);
    expect(turns.load).toEqual({ running: 1, waiting: 1 });
    a.finish();
    await ra;
    expect(await rc).toBe('c');
    expect(log).not.toContain('start b');
    expect(turns.load).toEqual({ running: 0, waiting: 0 });
  });

  it('a worker shutting down fails a waiting task retryably (another worker takes it)', async () => {
    const turns = new EngineTurns(1);
    const a = held([], 'a');
    const ra = turns.run(a.work);
    const env = new MockActivityEnvironment();
    const rb = env.run(() => turns.run(async () => 'b', 'scoreShard'));
    await tick();
    env.cancel('WORKER_SHUTDOWN');
    await expect(rb).rejects.toMatchObject({ type: 'ActivityInterrupted', nonRetryable: false });
    a.finish();
    await ra;
    expect(turns.load).toEqual({ running: 0, waiting: 0 });
  });

  it('inTurns wraps every activity of a queue; without prefetch no task ever waits', async () => {
    const turns = new EngineTurns(1);
    const seen: string[] = [];
    const acts = inTurns(turns, {
      one: async (x: number) => {
        seen.push(`one ${x}`);
        return x + 1;
      },
      two: async (s: string) => `${s}!`,
    });
    expect(await acts.one(1)).toBe(2);
    expect(await acts.two('a')).toBe('a!');
    expect(seen).toEqual(['one 1']);
    expect(() => new EngineTurns(0)).toThrow(/slots must be an integer ≥ 1/);
  });
});
