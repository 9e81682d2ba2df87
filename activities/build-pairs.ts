// Preference pairs of iteration t from its scored shards (shared/pairs.ts selectors), written as
// runs/<run>/iter-NNNN/pairs/pairs.jsonl in TRL DPO format plus chosen_reward, rejected_reward, margin.
import { FILE, iterationName, layout, shardName } from '../shared/layout';
import { seedInt } from '../shared/seeds';
import { buildPairs as selectPairs, checkScoredRow, type PairStats, type ScoredRow } from '../shared/pairs';
import { activity, heartbeat, type Deps } from './support';
import type { BuildPairsInput, BuiltPairs } from './types';

export function buildPairs(deps: Deps) {
  return activity('buildPairs', async (input: BuildPairsInput): Promise<BuiltPairs> => {
    const prefix = layout.pairs(input.run, input.iteration);
    const done = await deps.store.getManifest(prefix);
    if (done) return { prefix, stats: done.meta.stats as PairStats };

    const rows: Array<{ index: number; row: ScoredRow }> = [];
    for (const s of [...input.scores].sort((a, b) => a.shard - b.shard)) {
      const shard = await deps.requireCommitted(s.prefix, `scores of shard ${s.shard}`);
      const shardRows = await shard.store.readCommittedJsonlAll<ScoredRow & { index?: number }>(shard.prefix, shardName(s.shard));
      shardRows.forEach((row, i) => {
        checkScoredRow(row, `${shard.store.uri(shard.prefix)}/${shardName(s.shard)} row ${i + 1}`, input.k);
        rows.push({ index: row.index ?? s.start + i, row });
      });
      heartbeat({ shard: s.shard, rows: rows.length });
    }
    const { pairs, stats } = selectPairs(rows, input.options, seedInt(input.seed, iterationName(input.iteration), 'pairs'));
    const obj = await deps.store.writeJsonl(`${prefix}/${FILE.pairs}`, pairs);
    await deps.store.commit(prefix, [obj], { stats, options: input.options });
    return { prefix, stats };
  });
}
