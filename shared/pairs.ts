// Preference pairs from scored generations (recipe step 4). For each prompt with K scored responses, a
// selector picks (chosen, rejected) by selection score s_i = r_i − λ·|y_i| (|y| in characters; λ = 0: raw
// RM reward). Names follow the public RLHFlow code:
//   max_min    chosen = argmax s, rejected = argmin s                      (paper)
//   max_max    chosen = best, rejected = second best
//   max_random chosen = argmax s, rejected = a seeded random other response
//   random     two distinct seeded random responses, ordered by s
//   max_min_p  max_min on length-penalised scores (requires λ > 0)
// Ties in argmax/argmin go to the lowest index; rejected is never the chosen index itself. A prompt is dropped when the two responses are identical,
// when their scores are equal under tieRule 'drop', or when the margin s_c − s_r is below marginThreshold.
// Pure module: the control activity and tests use it.
import type { PairSelector, TieRule } from './recipe';
import { createRng, seedInt, type SeedPart } from './seeds';

export type PromptValue = string | Array<{ role: string; content: string }>;

export interface ScoredRow {
  prompt: PromptValue;
  responses: string[];
  rewards: number[];
}

/** TRL DPO format plus the RM rewards of both sides and the selection margin. */
export interface PreferencePair {
  prompt: PromptValue;
  chosen: string;
  rejected: string;
  chosen_reward: number;
  rejected_reward: number;
  margin: number;
}

export interface PairOptions {
  selector: PairSelector;
  tieRule: TieRule;
  marginThreshold: number;
  lengthPenalty: number;
}

export type DropReason = 'tie' | 'identical' | 'margin';

export interface PairStats {
  prompts: number;
  pairs: number;
  dropped: Record<DropReason, number>;
  meanMargin: number;
  meanChosenReward: number;
  meanRejectedReward: number;
}

/** A scored row that cannot be paired (wrong shape, K mismatch): a data bug, never silently skipped. */
export class PairDataError extends Error {
  override name = 'PairDataError';
}

/** Checks a scored row's shape; `where` names it in the message (e.g. "shard 3 row 7"). */
export function checkScoredRow(row: unknown, where: string, k?: number): asserts row is ScoredRow {
  const r = row as Partial<ScoredRow> | null;
  if (typeof r !== 'object' || r === null) throw new PairDataError(`${where}: not an object`);
  if (typeof r.prompt !== 'string' && !Array.isArray(r.prompt)) throw new PairDataError(`${where}: "prompt" must be a string or a list of messages`);
  if (!Array.isArray(r.responses) || !r.responses.every((x) => typeof x === 'string')) throw new PairDataError(`${where}: "responses" must be a list of strings`);
  if (!Array.isArray(r.rewards) || !r.rewards.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new PairDataError(`${where}: "rewards" must be a list of finite numbers`);
  }
  if (r.rewards.length !== r.responses.length) {
    throw new PairDataError(`${where}: ${r.responses.length} responses but ${r.rewards.length} rewards (generation and scoring disagree on K)`);
  }
  if (k !== undefined && r.responses.length !== k) throw new PairDataError(`${where}: ${r.responses.length} responses, expected K = ${k}`);
  if (r.responses.length < 2) throw new PairDataError(`${where}: needs at least 2 responses to form a pair (got ${r.responses.length})`);
}

/** Selection scores s_i = r_i − λ·|y_i|. */
export function selectionScores(row: ScoredRow, lengthPenalty: number): number[] {
  return row.rewards.map((r, i) => r - lengthPenalty * (row.responses[i] ?? '').length);
}

function argmax(s: number[], exclude = -1): number {
  let best = -1;
  for (let i = 0; i < s.length; i++) if (i !== exclude && (best < 0 || (s[i] as number) > (s[best] as number))) best = i;
  return best;
}

function argmin(s: number[], exclude = -1): number {
  let worst = -1;
  for (let i = 0; i < s.length; i++) if (i !== exclude && (worst < 0 || (s[i] as number) < (s[worst] as number))) worst = i;
  return worst;
}

/** Indices [a, b] picked by the selector, before ordering by score. */
export function pickIndices(selector: PairSelector, s: number[], random: () => number): [number, number] {
  const n = s.length;
  const other = (not: number): number => {
    const j = Math.floor(random() * (n - 1));
    return j >= not ? j + 1 : j;
  };
  switch (selector) {
    case 'max_min':
    case 'max_min_p': {
      const best = argmax(s);
      return [best, argmin(s, best)];
    }
    case 'max_max': {
      const best = argmax(s);
      return [best, argmax(s, best)];
    }
    case 'max_random': {
      const best = argmax(s);
      return [best, other(best)];
    }
    case 'random': {
      const a = Math.floor(random() * n);
      return [a, other(a)];
    }
  }
}

/** The pair of one scored row, or why it was dropped. `random` is a seeded stream for this row. */
export function selectPair(row: ScoredRow, opts: PairOptions, random: () => number): PreferencePair | DropReason {
  const s = selectionScores(row, opts.lengthPenalty);
  const [a, b] = pickIndices(opts.selector, s, random);
  const [c, r] = (s[b] as number) > (s[a] as number) ? [b, a] : [a, b];
  const chosen = row.responses[c] as string;
  const rejected = row.responses[r] as string;
  if (chosen === rejected) return 'identical';
  const margin = (s[c] as number) - (s[r] as number);
  if (margin === 0 && opts.tieRule === 'drop') return 'tie';
  if (margin < opts.marginThreshold) return 'margin';
  return { prompt: row.prompt, chosen, rejected, chosen_reward: row.rewards[c] as number, rejected_reward: row.rewards[r] as number, margin };
}

/** An empty statistics record. */
export function emptyPairStats(): PairStats {
  return { prompts: 0, pairs: 0, dropped: { tie: 0, identical: 0, margin: 0 }, meanMargin: 0, meanChosenReward: 0, meanRejectedReward: 0 };
}

/**
 * Pairs of many rows. Row i (its global index in the iteration's prompts) draws from the stream seeded by
 * (seed, i), so the result does not depend on sharding or on the order shards are read.
 */
export function buildPairs(rows: Iterable<{ index: number; row: ScoredRow }>, opts: PairOptions, seed: SeedPart): { pairs: PreferencePair[]; stats: PairStats } {
  const pairs: PreferencePair[] = [];
  const stats = emptyPairStats();
  for (const { index, row } of rows) {
    // NaN/±Inf rewards would give a NaN margin that passes every drop rule: reject the row instead.
    checkScoredRow(row, `row ${index}`);
    stats.prompts++;
    const rng = createRng(seedInt(seed, 'pair', index));
    const out = selectPair(row, opts, rng.next);
    if (typeof out === 'string') stats.dropped[out]++;
    else pairs.push(out);
  }
  stats.pairs = pairs.length;
  if (pairs.length > 0) {
    stats.meanMargin = pairs.reduce((a, p) => a + p.margin, 0) / pairs.length;
    stats.meanChosenReward = pairs.reduce((a, p) => a + p.chosen_reward, 0) / pairs.length;
    stats.meanRejectedReward = pairs.reduce((a, p) => a + p.rejected_reward, 0) / pairs.length;
  }
  return { pairs, stats };
}
