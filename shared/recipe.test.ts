import { describe, expect, it } from 'vitest';
import {
  applyNextIterationOptions,
  durationMs,
  nextIterationOptionsProblems,
  promptPoolSize,
  RECIPE_DEFAULTS,
  RecipeError,
  resolveRecipe,
  RULES,
} from './recipe';

function problems(input: unknown): string[] {
  try {
    resolveRecipe(input);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeError);
    return (err as RecipeError).problems;
  }
}

function leafPaths(v: unknown, path = ''): string[] {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return Object.entries(v).flatMap(([k, x]) => leafPaths(x, path ? `${path}.${k}` : k));
  return [path];
}

describe('recipe options', () => {
  it('{} resolves to the demo defaults', () => {
    expect(resolveRecipe({})).toEqual(RECIPE_DEFAULTS);
    expect(resolveRecipe(undefined)).toEqual(RECIPE_DEFAULTS);
    expect(promptPoolSize(RECIPE_DEFAULTS)).toBe(RECIPE_DEFAULTS.online.iterations * RECIPE_DEFAULTS.online.promptsPerIteration);
  });

  it('every option has exactly one rule', () => {
    expect(leafPaths(RECIPE_DEFAULTS).sort()).toEqual(Object.keys(RULES).sort());
  });

  it('merges partial input deeply', () => {
    const r = resolveRecipe({ online: { beta: 0.2, temperatures: [1] }, execution: { timeouts: { train: '1h' } } });
    expect(r.online.beta).toBe(0.2);
    expect(r.online.temperatures).toEqual([1]);
    expect(r.online.k).toBe(RECIPE_DEFAULTS.online.k);
    expect(r.execution.timeouts.train).toBe('1h');
    expect(r.execution.timeouts.inference).toBe(RECIPE_DEFAULTS.execution.timeouts.inference);
  });

  it('rejects bad values with messages that name the field', () => {
    expect(problems({ online: { beta: 0 } })).toEqual(['online.beta must be > 0 (got 0)']);
    expect(problems({ online: { beta: -1 } })[0]).toMatch(/^online\.beta must be > 0/);
    expect(problems({ online: { k: 1 } })[0]).toMatch(/^online\.k must be an integer in \[2, 1024\] \(got 1\)/);
    expect(problems({ online: { k: 5 } })[0]).toMatch(/online\.k \(5\) must be a multiple of the number of online\.temperatures \(2\)/);
    expect(problems({ online: { pairSelector: 'best' } })[0]).toMatch(/online\.pairSelector must be one of 'max_min'/);
    expect(problems({ online: { pairSelector: 'max_min_p' } })[0]).toMatch(/max_min_p' needs online\.lengthPenalty > 0/);
    expect(problems({ online: { temperatures: [] } })[0]).toMatch(/online\.temperatures must be a non-empty list/);
    expect(problems({ models: { sft: 'runs/x' } })[0]).toMatch(/models\.sft must be an s3:\/\/bucket\/key URI/);
    expect(problems({ execution: { timeouts: { train: 'soon' } } })[0]).toMatch(/execution\.timeouts\.train must be a duration/);
    expect(problems({ online: { maxPromptLength: 64, maxLength: 64 } })[0]).toMatch(/online\.maxPromptLength \(64\) must be < online\.maxLength \(64\)/);
    expect(problems({ data: { promptPool: 10 } })[0]).toMatch(/data\.promptPool \(10\) must be ≥/);
  });

  it('rejects unknown keys (typos) and wrong shapes', () => {
    expect(problems({ online: { betta: 0.1 } })[0]).toMatch(/unknown option 'online\.betta'/);
    expect(problems({ online: 3 })[0]).toMatch(/online must be an object/);
    expect(problems({ seed: 'x' })[0]).toMatch(/seed must be an integer/);
  });

  it('parses durations', () => {
    expect(durationMs('90s')).toBe(90_000);
    expect(durationMs('10 minutes')).toBe(600_000);
    expect(durationMs('2h')).toBe(7_200_000);
    expect(durationMs(1500)).toBe(1500);
    expect(durationMs('1500')).toBe(1500);
    expect(durationMs('0s')).toBeUndefined();
    expect(durationMs('fast')).toBeUndefined();
  });

  it('validates and applies next-iteration changes', () => {
    const cur = RECIPE_DEFAULTS.online;
    expect(nextIterationOptionsProblems({ beta: 0.05 }, cur)).toEqual([]);
    expect(nextIterationOptionsProblems({ beta: 0 }, cur)).toEqual(['beta must be > 0 (got 0)']);
    expect(nextIterationOptionsProblems({ k: 1 }, cur)[0]).toMatch(/^k must be an integer in \[2/);
    expect(nextIterationOptionsProblems({ k: 3 }, cur)[0]).toMatch(/k \(3\) must be a multiple of the number of temperatures \(2\)/);
    expect(nextIterationOptionsProblems({ k: 3, temperatures: [1] }, cur)).toEqual([]);
    expect(nextIterationOptionsProblems({ epochs: 3 }, cur)[0]).toMatch(/'epochs' cannot be changed while running/);
    expect(nextIterationOptionsProblems({}, cur)[0]).toMatch(/at least one/);
    expect(nextIterationOptionsProblems({ learningRate: -1 }, cur)[0]).toMatch(/learningRate must be in \(0, 1\]/);
    const next = applyNextIterationOptions(cur, { beta: 0.3, k: 8 });
    expect(next).toMatchObject({ beta: 0.3, k: 8, learningRate: cur.learningRate });
    expect(cur.beta).toBe(0.1);
  });
});
