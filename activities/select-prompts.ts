// Iteration t's prompts: slice [(t−1)·n, t·n) of one seeded permutation of the prompt pool (disjoint across
// iterations, identical on every rerun), written as shards runs/<run>/iter-NNNN/prompts/shard-NNNN.jsonl.
// Rows: {"prompt", "pool_index"}.
import { ErrorType } from '../shared/errors';
import { layout, parseShardName, shardName, shardRanges } from '../shared/layout';
import { iterationPromptIndices } from '../shared/seeds';
import { activity, fail, type Deps } from './support';
import type { PromptShard, SelectedPrompts, SelectPromptsInput } from './types';

export function selectPrompts(deps: Deps) {
  return activity('selectPrompts', async (input: SelectPromptsInput): Promise<SelectedPrompts> => {
    const prefix = layout.prompts(input.run, input.iteration);
    const done = await deps.store.getManifest(prefix);
    if (done) return { prefix, shards: done.meta.shards as PromptShard[], count: Number(done.meta.count) };

    const pool = await deps.requireCommitted(input.promptPool, 'prompt pool');
    const shardKeys = pool.manifest.entries.map((e) => e.key).filter((k) => parseShardName(k) !== undefined).sort();
    const rows: Array<{ prompt: unknown }> = [];
    for (const key of shardKeys) rows.push(...(await pool.store.readCommittedJsonlAll<{ prompt: unknown }>(pool.prefix, key)));

    let indices: number[];
    try {
      indices = iterationPromptIndices(rows.length, input.count, input.iteration, input.seed);
    } catch (err) {
      fail(`selectPrompts: ${(err as Error).message}; enlarge the pool (data.promptPool) or lower online.iterations/promptsPerIteration`, ErrorType.NotEnoughPrompts);
    }
    const selected = indices.map((i) => ({ prompt: (rows[i] as { prompt: unknown }).prompt, pool_index: i }));
    const shards: PromptShard[] = [];
    const objects = [];
    for (const r of shardRanges(selected.length, input.shardSize)) {
      objects.push(await deps.store.writeJsonl(`${prefix}/${shardName(r.shard)}`, selected.slice(r.start, r.end)));
      shards.push({ shard: r.shard, start: r.start, count: r.end - r.start });
    }
    await deps.store.commit(prefix, objects, { count: selected.length, shards });
    return { prefix, shards, count: selected.length };
  });
}
