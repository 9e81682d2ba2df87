// Mock activities for workflow-logic tests: every activity of every queue, recording its calls and
// returning plausible S3 references and metrics, with optional gates that hold a call until the test
// releases it (to signal a workflow while an activity is in flight).
import { layout, shardPrefix, shardRanges } from '../../shared/layout';
import { emptyPairStats } from '../../shared/pairs';
import type { RlhfActivities, TrainedModel } from '../../activities/types';

export interface Call {
  name: string;
  input: any;
}

export interface Gate {
  /** Resolves when the gated call has started. */
  started: Promise<void>;
  release(): void;
}

export class MockActivities {
  readonly calls: Call[] = [];
  private readonly gates = new Map<string, { started: () => void; released: Promise<void> }>();
  private readonly failures = new Map<string, Error>();

  /** The first call matching `id` throws `error`. */
  failOn(id: string, error: Error): void {
    this.failures.set(id, error);
  }

  /** Holds the first call for which `key(name, input)` equals `id` until `release()`. */
  gate(id: string): Gate {
    let started!: () => void;
    let release!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const released = new Promise<void>((r) => (release = r));
    this.gates.set(id, { started, released });
    return { started: startedP, release };
  }

  names(): string[] {
    return this.calls.map((c) => c.name);
  }

  count(name: string, pred: (input: any) => boolean = () => true): number {
    return this.calls.filter((c) => c.name === name && pred(c.input)).length;
  }

  private async record(name: string, input: any, id = name): Promise<void> {
    this.calls.push({ name, input });
    const failure = this.failures.get(id);
    if (failure) {
      this.failures.delete(id);
      throw failure;
    }
    const g = this.gates.get(id);
    if (g) {
      this.gates.delete(id);
      g.started();
      await g.released;
    }
  }

  build(): RlhfActivities {
    const trained = (model: string, steps = 10): TrainedModel => ({ model, steps, resumedFromStep: 0, finalLoss: 0.5, metrics: {} });
    return {
      control: {
        recordRunConfig: async (i) => {
          await this.record('recordRunConfig', i);
          return layout.config(i.run);
        },
        prepareData: async (i) => {
          await this.record('prepareData', i);
          return {
            sft: layout.sftData(i.run),
            sftRows: i.data.sftExamples,
            preferences: layout.preferenceData(i.run),
            preferenceRows: i.data.preferencePairs,
            promptPool: layout.promptPool(i.run),
            poolSize: i.poolSize,
            evalPrompts: layout.evalPrompts(i.run),
            evalPromptCount: i.data.evalPrompts,
            task: i.data.task,
          };
        },
        selectPrompts: async (i) => {
          await this.record('selectPrompts', i, `selectPrompts:${i.iteration}`);
          return {
            prefix: layout.prompts(i.run, i.iteration),
            shards: shardRanges(i.count, i.shardSize).map((r) => ({ shard: r.shard, start: r.start, count: r.end - r.start })),
            count: i.count,
          };
        },
        buildPairs: async (i) => {
          await this.record('buildPairs', i, `buildPairs:${i.iteration}`);
          const prompts = i.scores.length * 4;
          return { prefix: layout.pairs(i.run, i.iteration), stats: { ...emptyPairStats(), prompts, pairs: prompts - 1, meanMargin: 0.5 } };
        },
        writeRunSummary: async (i) => {
          await this.record('writeRunSummary', i);
          return layout.summary(i.run);
        },
      },
      inference: {
        generateShard: async (i) => {
          await this.record('generateShard', i, `generateShard:${i.iteration}:${i.shard}`);
          return { shard: i.shard, start: i.start, prefix: shardPrefix(layout.generations(i.run, i.iteration), i.shard), prompts: 4, overlong: 0, dropped: 0, meanResponseLength: 5 };
        },
        scoreShard: async (i) => {
          await this.record('scoreShard', i, `scoreShard:${i.iteration}:${i.shard}`);
          return { shard: i.shard, start: i.start, prefix: shardPrefix(layout.scores(i.run, i.iteration), i.shard), rows: 4, meanReward: 0.1 };
        },
        evaluateModel: async (i) => {
          await this.record('evaluateModel', i, `evaluateModel:${i.stage}`);
          const t = i.stage === 'sft' ? 0 : i.stage;
          return {
            prefix: layout.eval(i.run, i.stage),
            meanReward: 0.1 * t,
            winRateVsSft: t === 0 ? 0.5 : 0.5 + 0.1 * t,
            meanResponseLength: 6,
            kl: 0.01 * t,
            gold: 0.3 + 0.1 * t,
            prompts: i.count,
          };
        },
      },
      train: {
        initBaseModel: async (i) => {
          await this.record('initBaseModel', i);
          return layout.baseModel(i.run);
        },
        trainSft: async (i) => {
          await this.record('trainSft', i);
          return trained(layout.model(i.run, 'sft'));
        },
        trainRewardModel: async (i) => {
          await this.record('trainRewardModel', i);
          return trained(layout.model(i.run, 'reward-model'));
        },
        trainDpo: async (i) => {
          await this.record('trainDpo', i, `trainDpo:${i.iteration}`);
          return trained(layout.model(i.run, i.iteration));
        },
      },
    };
  }
}
