import { describe, expect, it } from 'vitest';
import { getTask, taskNames } from '../../tasks';
import { createRng } from '../../tasks/prng';
import { corrupt, createSortDigitsTask, gradeSort, parseSortPrompt, sortedAnswer } from '../../tasks/sort-digits';

const task = getTask('sort-digits');

describe('seeded PRNG', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = createRng('seed-1');
    const b = createRng('seed-1');
    const c = createRng('seed-2');
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
  });
  it('is roughly uniform', () => {
    const rng = createRng('uniform');
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) counts[rng.int(0, 9)]! += 1;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });
});

describe('sort-digits grader', () => {
  it('gives 1 exactly for the sorted digits', () => {
    expect(task.grade('sort 4213\n', '1234')).toBe(1);
    expect(task.grade('sort 4213\n', '1234\n')).toBe(1);
    expect(task.grade('sort 990\n', '099')).toBe(1);
    expect(task.grade([{ role: 'user', content: 'sort 31\n' }], '13')).toBe(1);
  });
  it('gives partial credit per correct position and penalises wrong length', () => {
    expect(gradeSort('4213', '1243')).toBe(0.5); // positions 0,1 right
    expect(gradeSort('4213', '123')).toBe(0.75); // 3 of 4, one missing
    expect(gradeSort('4213', '12345')).toBe(0.8); // 4 right of the longer 5
    expect(gradeSort('4213', '')).toBe(0);
    expect(gradeSort('4213', 'abcd')).toBe(0);
    expect(gradeSort('4321', '4321')).toBe(0); // unsorted copy: no position right
    expect(gradeSort('4213', '4213')).toBe(0.25); // only the 2 is in place
  });
  it('rejects prompts that are not task prompts, naming the prompt', () => {
    expect(() => task.grade('hello\n', '1')).toThrow(/not a task prompt.*hello/);
  });
  it('stays in [0, 1] for arbitrary responses', () => {
    const rng = createRng('fuzz');
    for (let i = 0; i < 500; i++) {
      const response = Array.from({ length: rng.int(0, 9) }, () => String.fromCharCode(rng.int(32, 126))).join('');
      const g = task.grade('sort 83721\n', response);
      expect(g).toBeGreaterThanOrEqual(0);
      expect(g).toBeLessThanOrEqual(1);
    }
  });
});

describe('sort-digits generators', () => {
  it('are deterministic and prefix-stable', () => {
    expect(task.makePrompts('s', 20)).toEqual(getTask('sort-digits').makePrompts('s', 20));
    expect(task.makePrompts('s', 30).slice(0, 20)).toEqual(task.makePrompts('s', 20));
    expect(task.makeSftRows('s', 50)).toEqual(task.makeSftRows('s', 50));
    expect(task.makePreferencePairs('s', 50)).toEqual(task.makePreferencePairs('s', 50));
    expect(task.makePrompts('t', 20)).not.toEqual(task.makePrompts('s', 20));
  });
  it('keeps train and eval prompts disjoint', () => {
    const train = new Set(task.makePrompts('a', 3000, 'train').map((r) => r.prompt as string));
    const evalPrompts = task.makePrompts('a', 500, 'eval').map((r) => r.prompt as string);
    for (const p of evalPrompts) expect(train.has(p)).toBe(false);
    for (const row of task.makeSftRows('a', 500)) expect(evalPrompts).not.toContain(row.prompt);
  });
  it('keeps examples short (≤ 24 byte tokens with eos)', () => {
    for (const row of task.makeSftRows('len', 300)) {
      const prompt = row.prompt as string;
      expect(prompt).toMatch(/^sort [0-9]{3,6}\n$/);
      expect(prompt.length + row.response.length + 1).toBeLessThanOrEqual(24);
    }
  });
  it('SFT demonstrations carry mistakes at the configured rate', () => {
    const rows = task.makeSftRows('rate', 4000);
    const wrong = rows.filter((r) => task.grade(r.prompt, r.response) < 1).length / rows.length;
    expect(wrong).toBeGreaterThan(0.22);
    expect(wrong).toBeLessThan(0.28);
    const clean = createSortDigitsTask({ sftMistakeRate: 0 }).makeSftRows('rate', 200);
    for (const r of clean) expect(r.response).toBe(sortedAnswer(parseSortPrompt(r.prompt)));
  });
  it('preference labels agree with the gold grader except for the noise rate', () => {
    const pairs = task.makePreferencePairs('noise', 4000);
    let flipped = 0;
    for (const p of pairs) {
      const c = task.grade(p.prompt, p.chosen);
      const r = task.grade(p.prompt, p.rejected);
      expect(c).not.toBe(r);
      if (c < r) flipped++;
    }
    const rate = flipped / pairs.length;
    expect(rate).toBeGreaterThan(0.08);
    expect(rate).toBeLessThan(0.12);
    const noiseless = createSortDigitsTask({ pairLabelNoise: 0 }).makePreferencePairs('noise', 300);
    for (const p of noiseless) expect(task.grade(p.prompt, p.chosen)).toBeGreaterThan(task.grade(p.prompt, p.rejected));
  });
  it('corrupt always changes the answer', () => {
    const rng = createRng('corrupt');
    for (const answer of ['000', '1', '11', '0123456789', '5555']) {
      for (let i = 0; i < 50; i++) expect(corrupt(answer, rng)).not.toBe(answer);
    }
  });
});

describe('task registry', () => {
  it('lists tasks and names unknown ones clearly', () => {
    expect(taskNames()).toContain('sort-digits');
    expect(() => getTask('nope')).toThrow(/unknown task "nope" \(known: sort-digits\)/);
  });
  it('validates options', () => {
    expect(() => createSortDigitsTask({ pairLabelNoise: 2 })).toThrow(/pairLabelNoise must be in \[0, 1\]/);
  });
});
