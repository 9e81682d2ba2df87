// Score every response of one generation shard with the reward model:
// runs/<run>/iter-NNNN/scores/shard-NNNN/shard-NNNN.jsonl, rows {"prompt","responses","rewards","index"}.
// A row whose number of responses is not K fails the activity (non-retryable): never a silent skip.
import type { Prompt } from '../engine/api';
import { ErrorType } from '../shared/errors';
import { layout, shardName, shardPrefix } from '../shared/layout';
import { dropPartials, inChunks } from './chunks';
import type { ModelCache } from './models';
import { activity, cancellationSignal, fail, heartbeat, type Deps } from './support';
import type { ScoredShard, ScoreShardInput } from './types';

/** Prompts per chunk (K responses each). */
export const SCORING_CHUNK = 8;

interface GenerationRow {
  prompt: Prompt;
  responses: string[];
  index?: number;
}

export function scoreShard(deps: Deps, models: ModelCache) {
  return activity('scoreShard', async (input: ScoreShardInput): Promise<ScoredShard> => {
    const prefix = shardPrefix(layout.scores(input.run, input.iteration), input.shard);
    const file = shardName(input.shard);
    const done = await deps.store.getManifest(prefix);
    if (done) return done.meta.result as ScoredShard;

    const source = await deps.requireCommitted(input.generations, 'generations');
    const rows = await source.store.readCommittedJsonlAll<GenerationRow>(source.prefix, file);
    rows.forEach((row, i) => {
      if (!Array.isArray(row.responses) || row.responses.length !== input.k) {
        fail(
          `${source.store.uri(source.prefix)}/${file} row ${i + 1}: ${Array.isArray(row.responses) ? row.responses.length : 'no'} responses, expected K = ${input.k} (generation and scoring disagree on K)`,
          ErrorType.InvalidData,
        );
      }
    });
    const rm = await models.rewardModel(input.rewardModel, input.engine);
    const scored = await inChunks(deps, prefix, rows.length, SCORING_CHUNK, async (start, end) => {
      const batch = rows.slice(start, end);
      const items = batch.flatMap((r) => r.responses.map((response) => ({ prompt: r.prompt, response })));
      const rewards = await rm.score(items, {
        signal: cancellationSignal(),
        onProgress: (p) => heartbeat({ phase: 'score', done: start + Math.floor(p.done / input.k), total: rows.length }),
      });
      return batch.map((r, i) => ({ ...r, index: r.index ?? input.start + start + i, rewards: rewards.slice(i * input.k, (i + 1) * input.k) }));
    });
    const all = scored.flatMap((r) => r.rewards);
    const result: ScoredShard = {
      shard: input.shard,
      start: input.start,
      prefix,
      rows: scored.length,
      meanReward: all.length > 0 ? all.reduce((a, b) => a + b, 0) / all.length : 0,
    };
    const obj = await deps.store.writeJsonl(`${prefix}/${file}`, scored);
    await deps.store.commit(prefix, [obj], { result, rewardModel: input.rewardModel });
    await dropPartials(deps, prefix);
    return result;
  });
}
