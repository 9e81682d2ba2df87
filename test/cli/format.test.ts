import { describe, expect, it } from 'vitest';
import { helpText, parseArgs, type CommandSpec } from '../../cli/args';
import { scheduleRuns, sweepRunId } from '../../cli/commands/run';
import { listQuery } from '../../cli/commands/inspect';
import { parseNextOptions } from '../../cli/commands/control';
import { progressBar, renderResults, renderStatus, resultRows, stageLine, workflowUiUrl } from '../../cli/format';
import { changedSections, LiveView } from '../../cli/live';
import type { IterationMetrics, RunStatus } from '../../shared/messages';

const status = (over: Partial<RunStatus> = {}): RunStatus => ({
  workflow: 'rlhfPipeline',
  run: 'demo-1',
  stage: 'online-dpo',
  paused: false,
  iteration: 2,
  iterations: 3,
  step: 'generate',
  shards: { step: 'generate', done: 1, total: 4 },
  stopAfterIteration: null,
  pendingOptions: null,
  lastMetrics: null,
  bestReward: null,
  activeChild: 'demo-1/iter-0002',
  models: { sft: null, reward: null, policy: null },
  ...over,
});

const metric = (iteration: number, gold: number): IterationMetrics => ({
  iteration,
  meanReward: gold - 0.5,
  winRateVsSft: iteration === 0 ? 0.5 : 0.5 + iteration / 10,
  meanResponseLength: 4.5,
  kl: iteration * 0.4,
  gold,
  prompts: 32,
  policy: `s3://b/runs/demo-1/iter-000${iteration}/policy`,
  pairs: iteration === 0 ? 0 : 20,
  prompts_used: 32,
  trainLoss: null,
  beta: 0.1,
  learningRate: 5e-5,
  k: 4,
  overlongPrompts: 0,
  droppedPrompts: 0,
});

describe('progress rendering', () => {
  it('draws bars', () => {
    expect(progressBar(0, 4, 8)).toBe('[░░░░░░░░]');
    expect(progressBar(1, 4, 8)).toBe('[██░░░░░░]');
    expect(progressBar(4, 4, 8)).toBe('[████████]');
    expect(progressBar(9, 4, 8)).toBe('[████████]');
    expect(progressBar(1, 0, 4)).toBe('[░░░░]');
  });
  it('marks finished, current and future stages', () => {
    expect(stageLine('sft')).toBe('✓ prepare-data  ✓ base-model  ▶ sft  · reward-model  · evaluate-sft  · online-dpo  · summary');
    expect(stageLine('completed')).not.toContain('▶');
  });
  it('shows stage, iteration, shard progress, pause and pending changes', () => {
    const lines = renderStatus(status({ paused: true, stopAfterIteration: 2, pendingOptions: { beta: 0.2 } }));
    expect(lines[0]).toBe('run demo-1 · online-dpo · PAUSED · stops after iteration 2');
    expect(lines).toContain('  iterations [███████░░░░░░░░░░░░░] 1/3   now: iteration 2 · generate');
    expect(lines).toContain('  shards     [█████░░░░░░░░░░░░░░░] 1/4 (generate)');
    expect(lines).toContain('  pending    {"beta":0.2} (from the next iteration)');
  });
  it('renders the results table: SFT, baselines, then iterations', () => {
    const rows = resultRows([metric(2, 0.8), metric(0, 0.6), metric(1, 0.7)], [{ name: 'offline DPO', metrics: { ...metric(1, 0.65), kl: 0.3 } }]);
    expect(rows.map((r) => r.policy)).toEqual(['SFT (baseline)', 'offline DPO (baseline)', 'online DPO iter 1', 'online DPO iter 2']);
    const table = renderResults(rows);
    expect(table[0]).toBe('policy                   gold  RM reward  win vs SFT  length     KL');
    expect(table[2]).toBe('SFT (baseline)          0.600      0.100       50.0%     4.5  0.000');
    expect(table[3]).toBe('offline DPO (baseline)  0.650      0.150       60.0%     4.5  0.300');
    expect(table[5]).toBe('online DPO iter 2       0.800      0.300       70.0%     4.5  0.800');
    expect(renderResults([])).toEqual(['(no evaluations yet)']);
  });
  it('builds UI links', () => {
    expect(workflowUiUrl('http://127.0.0.1:8233/', 'default', 'sweep-a/run-1')).toBe('http://127.0.0.1:8233/namespaces/default/workflows/sweep-a%2Frun-1');
  });
});

describe('live view', () => {
  it('redraws in place on a TTY', () => {
    const out: string[] = [];
    const view = new LiveView({ isTTY: true, write: (t) => out.push(t) });
    view.update(['a', 'b']);
    view.update(['a', 'b']);
    view.update(['c']);
    expect(out).toEqual(['a\nb\n', '\x1b[2A\x1b[Jc\n']);
  });
  it('prints changed lines, and the whole block periodically, without a TTY', () => {
    const out: string[] = [];
    let now = Date.UTC(2026, 0, 1, 10, 0, 0);
    const view = new LiveView({ write: (t) => out.push(t) }, 30_000, () => now);
    view.update(['run a', 'shards 1/4']);
    now += 1000;
    view.update(['run a', 'shards 1/4']);
    now += 1000;
    view.update(['run a', 'shards 2/4']);
    now += 30_000;
    view.update(['run a', 'shards 2/4']);
    expect(out).toEqual(['[10:00:00] run a\n           shards 1/4\n', '[10:00:02] run a\n           shards 2/4\n', '[10:00:32] run a\n           shards 2/4\n']);
    expect(out.join('')).not.toContain('\x1b');
  });
  it('prints a changed section (e.g. the metrics table) whole', () => {
    expect(changedSections(['run a', 'bar 1/4', '', 'policy', 'SFT 0.5'], ['run a', 'bar 2/4', '', 'policy', 'SFT 0.5', 'iter 1 0.7'])).toEqual(['run a', 'bar 2/4', 'policy', 'SFT 0.5', 'iter 1 0.7']);
    expect(changedSections(['a', '', 'b'], ['a', '', 'b'])).toEqual([]);
  });
});

describe('arguments', () => {
  const spec: CommandSpec = {
    name: 'x',
    summary: 's',
    usage: 'durable-rlhf x <id>',
    positionals: [1, 1],
    flags: { set: { kind: 'list', help: 'h' }, wait: { kind: 'boolean', help: 'w' }, n: { kind: 'int', help: 'n' }, id: { kind: 'string', help: 'i' } },
  };
  it('parses flags of every kind', () => {
    expect(parseArgs(spec, ['a', '--set', 'k=1', '--set=k2=2', '--wait', '--n', '3', '--id=z'])).toEqual({
      flags: { set: ['k=1', 'k2=2'], wait: true, n: 3, id: 'z' },
      positionals: ['a'],
      help: false,
    });
    expect(parseArgs(spec, ['--help']).help).toBe(true);
    expect(helpText(spec)).toContain('--set VALUE');
  });
  it('rejects bad usage in one line', () => {
    expect(() => parseArgs(spec, ['a', '--nope'])).toThrow("unknown flag '--nope' for 'x' (flags: --set, --wait, --n, --id); see --help");
    expect(() => parseArgs(spec, [])).toThrow("'x' needs an argument: usage: durable-rlhf x <id>");
    expect(() => parseArgs(spec, ['a', 'b'])).toThrow("unexpected argument 'b'");
    expect(() => parseArgs(spec, ['a', '--n', 'two'])).toThrow("--n must be a positive integer, got 'two'");
    expect(() => parseArgs(spec, ['a', '--id'])).toThrow('--id needs a value');
    expect(() => parseArgs(spec, ['a', '--id', 'p', '--id', 'q'])).toThrow('--id given twice');
  });
  it('parses set-next changes and rejects keys the update does not accept', () => {
    expect(parseNextOptions(['beta=0.2', 'temperatures=1.0,0.7'])).toEqual({ beta: 0.2, temperatures: [1, 0.7] });
    expect(() => parseNextOptions(['seed=3'])).toThrow("'seed' cannot be changed while running");
    expect(() => parseNextOptions(['beta=-1'])).toThrow('beta must be > 0');
  });
});

describe('sweep scheduling', () => {
  it('uses deterministic ids and a visibility query on RlhfSweep', () => {
    expect(sweepRunId('abc', 3)).toBe('sweep-abc/run-3');
    expect(listQuery({ sweep: "a'b" })).toBe("WorkflowType = 'rlhfPipeline' AND RlhfSweep = 'a\\'b'");
    expect(listQuery({ running: true })).toBe("WorkflowType = 'rlhfPipeline' AND ExecutionStatus = 'Running'");
  });
  it('starts N, then the next each time one finishes', async () => {
    const events: string[] = [];
    const finish: Array<() => void> = [];
    let running = 0;
    let peak = 0;
    const done = scheduleRuns(5, 2, async (i) => {
      events.push(`start ${i}`);
      running++;
      peak = Math.max(peak, running);
      const finished = new Promise<void>((r) => (finish[i] = () => {
        running--;
        events.push(`end ${i}`);
        r();
      }));
      return { finished };
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['start 0', 'start 1']);
    finish[1]!();
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['start 0', 'start 1', 'end 1', 'start 2']);
    finish[0]!();
    finish[2]!();
    await new Promise((r) => setTimeout(r, 10));
    finish[3]!();
    await done;
    expect(events.filter((e) => e.startsWith('start'))).toHaveLength(5);
    expect(peak).toBe(2);
  });
  it('starts everything at once without a limit', async () => {
    const started: number[] = [];
    await scheduleRuns(4, undefined, async (i) => {
      started.push(i);
      return { finished: new Promise(() => undefined) };
    });
    expect(started).toEqual([0, 1, 2, 3]);
  });
});
