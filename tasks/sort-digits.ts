// Demo task "sort-digits": sort a short list of digits. `sort 4213\n` → `1234`.
// Exact ground truth, ≤ 20 byte tokens per example, learnable by a tiny byte-level Llama in minutes of SFT.
import type { Prompt } from '../engine/api';
import { createRng, hashString, type Rng } from './prng';
import type { DemoTask, PreferencePairRow, PromptRow, SftDemoRow, Split } from './types';

export interface SortDigitsOptions {
  /** Shortest and longest digit list in a prompt. */
  minDigits: number;
  maxDigits: number;
  /** Fraction of SFT demonstrations that carry one mistake. */
  sftMistakeRate: number;
  /** Probability that a preference pair's gold label is flipped (annotator noise). */
  pairLabelNoise: number;
  /** Probability that a candidate response in a preference pair is exactly right. */
  pairCorrectRate: number;
  /** One prompt in `evalEvery` (by a hash of its digits) belongs to the held-out eval split. */
  evalEvery: number;
}

export const SORT_DIGITS_DEFAULTS: SortDigitsOptions = {
  minDigits: 3,
  maxDigits: 6,
  sftMistakeRate: 0.25,
  pairLabelNoise: 0.1,
  pairCorrectRate: 0.35,
  evalEvery: 8,
};

const PROMPT_PATTERN = /^sort ([0-9]+)\n$/;

export function sortPrompt(digits: string): string {
  return `sort ${digits}\n`;
}

/** The digits of a task prompt (plain text, or the last user message of a chat). */
export function parseSortPrompt(prompt: Prompt): string {
  const text = typeof prompt === 'string' ? prompt : ([...prompt].reverse().find((m) => m.role === 'user')?.content ?? '');
  const match = PROMPT_PATTERN.exec(text.endsWith('\n') ? text : `${text}\n`);
  if (!match?.[1]) throw new Error(`sort-digits: not a task prompt (expected "sort <digits>\\n"): ${JSON.stringify(text)}`);
  return match[1];
}

export function sortedAnswer(digits: string): string {
  return [...digits].sort().join('');
}

/**
 * Gold score: the fraction of positions that hold the right digit, over the longer of response and answer,
 * so a wrong length costs every missing or extra position. 1 exactly for the sorted list.
 */
export function gradeSort(digits: string, response: string): number {
  const expected = sortedAnswer(digits);
  const got = response.trim();
  const longest = Math.max(expected.length, got.length);
  if (longest === 0) return 1;
  let correct = 0;
  for (let i = 0; i < Math.min(expected.length, got.length); i++) if (got[i] === expected[i]) correct++;
  return correct / longest;
}

const DIGITS = '0123456789';

/** One mistake of the kinds a sloppy annotator makes: swap neighbours, wrong digit, drop, duplicate. */
export function corrupt(answer: string, rng: Rng): string {
  const chars = [...answer];
  for (let attempt = 0; attempt < 8; attempt++) {
    const kind = rng.int(0, 3);
    const i = rng.int(0, chars.length - 1);
    let out: string[];
    if (kind === 0 && chars.length > 1) {
      const j = i === chars.length - 1 ? i - 1 : i + 1;
      out = [...chars];
      [out[i], out[j]] = [out[j] as string, out[i] as string];
    } else if (kind === 1) {
      out = [...chars];
      out[i] = rng.pick([...DIGITS].filter((d) => d !== chars[i]));
    } else if (kind === 2 && chars.length > 1) {
      out = chars.filter((_, k) => k !== i);
    } else {
      out = [...chars.slice(0, i + 1), chars[i] as string, ...chars.slice(i + 1)];
    }
    const text = out.join('');
    if (text !== answer) return text;
  }
  // Every attempt reproduced the answer (e.g. swapping equal digits): change a digit for sure.
  const i = rng.int(0, chars.length - 1);
  chars[i] = chars[i] === '0' ? '1' : '0';
  return chars.join('');
}

export function createSortDigitsTask(overrides: Partial<SortDigitsOptions> = {}): DemoTask {
  const o: SortDigitsOptions = { ...SORT_DIGITS_DEFAULTS, ...overrides };
  if (!(o.minDigits >= 1 && o.maxDigits >= o.minDigits)) throw new Error(`sort-digits: need 1 <= minDigits <= maxDigits, got ${o.minDigits}..${o.maxDigits}`);
  for (const key of ['sftMistakeRate', 'pairLabelNoise', 'pairCorrectRate'] as const) {
    if (!(o[key] >= 0 && o[key] <= 1)) throw new Error(`sort-digits: ${key} must be in [0, 1], got ${o[key]}`);
  }
  if (!(Number.isInteger(o.evalEvery) && o.evalEvery >= 2)) throw new Error(`sort-digits: evalEvery must be an integer >= 2, got ${o.evalEvery}`);
  const name = 'sort-digits';

  const splitOf = (digits: string): Split => (hashString(`split/${digits}`) % o.evalEvery === 0 ? 'eval' : 'train');

  const drawDigits = (rng: Rng, split: Split): string => {
    for (;;) {
      const length = rng.int(o.minDigits, o.maxDigits);
      let digits = '';
      for (let k = 0; k < length; k++) digits += DIGITS[rng.int(0, 9)];
      if (splitOf(digits) === split) return digits;
    }
  };

  /** A response of random quality: exact with pairCorrectRate, otherwise 1–3 mistakes. */
  const candidate = (digits: string, rng: Rng): string => {
    let response = sortedAnswer(digits);
    if (rng.bernoulli(o.pairCorrectRate)) return response;
    const mistakes = rng.int(1, 3);
    for (let m = 0; m < mistakes; m++) response = corrupt(response, rng);
    return response;
  };

  return {
    name,
    description: `Sort ${o.minDigits}–${o.maxDigits} digits: "sort 4213\\n" → "1234". Gold score = fraction of correct positions over the longer length.`,
    generation: { maxNewTokens: o.maxDigits + 4, stopStrings: ['\n'] },

    makePrompts(seed, n, split = 'train') {
      const rng = createRng(`${name}/prompts/${split}/${seed}`);
      const rows: PromptRow[] = [];
      for (let i = 0; i < n; i++) rows.push({ prompt: sortPrompt(drawDigits(rng, split)) });
      return rows;
    },

    grade(prompt, response) {
      return gradeSort(parseSortPrompt(prompt), response);
    },

    makeSftRows(seed, n) {
      const rng = createRng(`${name}/sft/${seed}`);
      const rows: SftDemoRow[] = [];
      for (let i = 0; i < n; i++) {
        const digits = drawDigits(rng, 'train');
        const answer = sortedAnswer(digits);
        rows.push({ prompt: sortPrompt(digits), response: rng.bernoulli(o.sftMistakeRate) ? corrupt(answer, rng) : answer });
      }
      return rows;
    },

    makePreferencePairs(seed, n) {
      const rng = createRng(`${name}/pairs/${seed}`);
      const rows: PreferencePairRow[] = [];
      for (let draws = 0; rows.length < n; draws++) {
        if (draws > 100 * (n + 10)) throw new Error('sort-digits: cannot draw pairs with distinct gold scores (pairCorrectRate too close to 1?)');
        const digits = drawDigits(rng, 'train');
        const a = candidate(digits, rng);
        const b = candidate(digits, rng);
        const scoreA = gradeSort(digits, a);
        const scoreB = gradeSort(digits, b);
        if (scoreA === scoreB) continue; // no gold preference: draw again
        const [better, worse] = scoreA > scoreB ? [a, b] : [b, a];
        const flipped = rng.bernoulli(o.pairLabelNoise);
        rows.push({ prompt: sortPrompt(digits), chosen: flipped ? worse : better, rejected: flipped ? better : worse });
      }
      return rows;
    },
  };
}
