// Generate K responses per prompt for one shard of iteration t with π_{t−1}:
// runs/<run>/iter-NNNN/generations/shard-NNNN/shard-NNNN.jsonl, rows {"prompt","responses","index"}.
// Sampling is seeded by (run seed, iteration, global prompt index, sample index), so a retry, a resume
// mid-shard or another shard size gives the same responses.
import { iterationName, layout, shardName, shardPrefix } from '../shared/layout';
import { deriveSeed } from '../shared/seeds';
import type { Prompt } from '../engine/api';
import { dropPartials, inChunks } from './chunks';
import type { ModelCache } from './models';
import { activity, cancellationSignal, heartbeat, type Deps } from './support';
import type { GeneratedShard, GenerateShardInput } from './types';

/** Prompts per chunk (one heartbeat and one partial object per chunk). */
export const GENERATION_CHUNK = 8;

interface GenerationRow {
  prompt: Prompt;
  responses: string[];
  index: number;
}

export function generateShard(deps: Deps, models: ModelCache) {
  return activity('generateShard', async (input: GenerateShardInput): Promise<GeneratedShard> => {
    const prefix = shardPrefix(layout.generations(input.run, input.iteration), input.shard);
    const file = shardName(input.shard);
    const done = await deps.store.getManifest(prefix);
    if (done) return done.meta.result as GeneratedShard;

    const source = await deps.requireCommitted(input.prompts, 'iteration prompts');
    const prompts = await source.store.readCommittedJsonlAll<{ prompt: Prompt }>(source.prefix, file);
    const policy = await models.policy(input.policy, input.engine);

    let overlong = 0;
    const kept: Array<{ prompt: Prompt; index: number }> = [];
    prompts.forEach((row, i) => {
      const long = policy.promptLength(row.prompt) > input.maxPromptLength;
      if (long) overlong++;
      if (!(long && input.overlongPrompt === 'drop')) kept.push({ prompt: row.prompt, index: input.start + i });
    });

    const seed = deriveSeed(input.seed, iterationName(input.iteration), 'generate');
    const rows = await inChunks<GenerationRow>(deps, prefix, kept.length, GENERATION_CHUNK, async (start, end) => {
      const batch = kept.slice(start, end);
      const out = await policy.generate(
        batch.map((b) => b.prompt),
        {
          n: input.k,
          temperatures: input.temperatures,
          topP: input.topP,
          maxNewTokens: input.maxNewTokens,
          stopStrings: input.stopStrings,
          seed,
          promptIds: batch.map((b) => b.index),
          signal: cancellationSignal(),
          onProgress: (p) => heartbeat({ phase: 'generate', done: start + p.done, total: kept.length }),
        },
      );
      return batch.map((b, i) => ({ prompt: b.prompt, responses: (out[i] as { responses: string[] }).responses, index: b.index }));
    });

    const lengths = rows.flatMap((r) => r.responses.map((s) => s.length));
    const result: GeneratedShard = {
      shard: input.shard,
      start: input.start,
      prefix,
      prompts: rows.length,
      overlong,
      dropped: prompts.length - kept.length,
      meanResponseLength: lengths.length > 0 ? lengths.reduce((a, b) => a + b, 0) / lengths.length : 0,
    };
    const obj = await deps.store.writeJsonl(`${prefix}/${file}`, rows);
    await deps.store.commit(prefix, [obj], { result, k: input.k, temperatures: input.temperatures, policy: input.policy });
    heartbeat({ done: rows.length, total: kept.length, key: obj.key });
    await dropPartials(deps, prefix);
    return result;
  });
}
