import { describe, expect, it } from 'vitest';
import { checkRunName, iterationName, layout, parseShardName, parseStepName, shardName, shardPrefix, shardRanges, stepName } from './layout';

describe('artifact layout', () => {
  it('builds the design-sketch keys', () => {
    expect(layout.prompts('demo', 1)).toBe('runs/demo/iter-0001/prompts');
    expect(shardPrefix(layout.generations('demo', 1), 0)).toBe('runs/demo/iter-0001/generations/shard-0000');
    expect(layout.scores('demo', 12)).toBe('runs/demo/iter-0012/scores');
    expect(layout.pairs('demo', 2)).toBe('runs/demo/iter-0002/pairs');
    expect(layout.trainCheckpoint('demo', 1, 200)).toBe('runs/demo/iter-0001/train/step-000200');
    expect(layout.model('demo', 1)).toBe('runs/demo/iter-0001/policy');
    expect(layout.model('demo', 'sft')).toBe('runs/demo/sft/checkpoint');
    expect(layout.model('demo', 'reward-model')).toBe('runs/demo/reward-model/checkpoint');
    expect(layout.trainCheckpoint('demo', 'sft', 20)).toBe('runs/demo/sft/train/step-000020');
    expect(layout.eval('demo', 'sft')).toBe('runs/demo/sft/eval');
    expect(layout.eval('sweep-a/run-1', 3)).toBe('runs/sweep-a/run-1/iter-0003/eval');
  });

  it('names and parses shards and steps', () => {
    expect(shardName(7)).toBe('shard-0007.jsonl');
    expect(parseShardName('shard-0007.jsonl')).toBe(7);
    expect(parseShardName('shard-7.jsonl')).toBeUndefined();
    expect(stepName(200)).toBe('step-000200');
    expect(parseStepName('step-000200')).toBe(200);
    expect(parseStepName('_manifest.json')).toBeUndefined();
    expect(iterationName(1)).toBe('iter-0001');
    expect(() => iterationName(0)).toThrow(/≥ 1/);
    expect(() => shardName(10000)).toThrow(/shard must be an integer/);
  });

  it('rejects run names that would escape or confuse the layout', () => {
    expect(checkRunName('demo-1')).toBe('demo-1');
    expect(checkRunName('sweep-x/run-3')).toBe('sweep-x/run-3');
    for (const bad of ['', '../x', 'a//b', '/a', 'a/', 'a b', '.hidden']) expect(() => checkRunName(bad)).toThrow(/invalid run name/);
  });

  it('splits prompts into shards without losing the remainder', () => {
    expect(shardRanges(10, 4)).toEqual([
      { shard: 0, start: 0, end: 4 },
      { shard: 1, start: 4, end: 8 },
      { shard: 2, start: 8, end: 10 },
    ]);
    expect(shardRanges(0, 4)).toEqual([]);
    expect(shardRanges(7, 1).map((r) => r.end - r.start).reduce((a, b) => a + b)).toBe(7);
  });
});
