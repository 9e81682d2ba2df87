// Prepare the run's datasets under runs/<run>/data/: SFT demonstrations, RM preference pairs, the DPO
// prompt pool (sharded) and held-out evaluation prompts. Each comes from the demo task's seeded generators
// (tasks/) or is imported from an s3:// JSONL/Parquet object (recipe.data.*Uri), normalized to the recipe's
// formats. Each dataset commits on its own; a committed one is reused only when it was made from the same
// source, so a changed option never silently reuses stale data.
import { ErrorType } from '../shared/errors';
import { FILE, layout, shardName, shardRanges } from '../shared/layout';
import { deriveSeed } from '../shared/seeds';
import { canonicalJson } from '../shared/store';
import { getTask, type DemoTask } from '../tasks';
import { importPairs, importPrompts, importSftRows } from '../tasks/import';
import { activity, fail, heartbeat, type Deps } from './support';
import type { PreparedData, PrepareDataInput } from './types';

interface Dataset {
  prefix: string;
  /** Identifies what the rows were made from (compared with the committed manifest's meta). */
  source: Record<string, unknown>;
  rows: () => Promise<object[]>;
  /** Rows per object; undefined → one object named `file`. */
  shardSize?: number;
  file?: string;
}

export function prepareData(deps: Deps) {
  return activity('prepareData', async (input: PrepareDataInput): Promise<PreparedData> => {
    const { run, seed, data } = input;
    let task: DemoTask | undefined;
    const demo = (): DemoTask => {
      if (!task) {
        try {
          task = getTask(data.task);
        } catch (err) {
          fail(`data.task: ${(err as Error).message}`, ErrorType.InvalidOptions);
        }
      }
      return task;
    };
    const readS3 = (bucket: string, key: string) => deps.resolve(`s3://${bucket}/${key}`).store.getBytes(key);

    const sets: Record<'sft' | 'preferences' | 'promptPool' | 'evalPrompts', Dataset> = {
      sft: {
        prefix: layout.sftData(run),
        file: FILE.sftRows,
        source: data.sftUri ? { uri: data.sftUri } : { task: data.task, seed, n: data.sftExamples },
        rows: async () => (data.sftUri ? importSftRows(data.sftUri, { readS3 }) : demo().makeSftRows(deriveSeed(seed, 'data', 'sft'), data.sftExamples)),
      },
      preferences: {
        prefix: layout.preferenceData(run),
        file: FILE.preferences,
        source: data.preferencesUri ? { uri: data.preferencesUri } : { task: data.task, seed, n: data.preferencePairs },
        rows: async () =>
          data.preferencesUri ? importPairs(data.preferencesUri, { readS3 }) : demo().makePreferencePairs(deriveSeed(seed, 'data', 'preferences'), data.preferencePairs),
      },
      promptPool: {
        prefix: layout.promptPool(run),
        shardSize: input.shardSize,
        source: data.promptsUri ? { uri: data.promptsUri } : { task: data.task, seed, n: input.poolSize },
        rows: async () => {
          const rows = data.promptsUri ? await importPrompts(data.promptsUri, { readS3 }) : demo().makePrompts(deriveSeed(seed, 'data', 'prompt-pool'), input.poolSize, 'train');
          if (rows.length < input.poolSize) {
            fail(
              `prompt pool ${data.promptsUri ?? `of task ${data.task}`} has ${rows.length} prompts; the run needs ${input.poolSize} (online.iterations × online.promptsPerIteration, or data.promptPool)`,
              ErrorType.NotEnoughPrompts,
            );
          }
          return rows;
        },
      },
      evalPrompts: {
        prefix: layout.evalPrompts(run),
        file: FILE.evalPrompts,
        source: data.evalPromptsUri ? { uri: data.evalPromptsUri } : { task: data.task, seed, n: data.evalPrompts },
        rows: async () => (data.evalPromptsUri ? importPrompts(data.evalPromptsUri, { readS3 }) : demo().makePrompts(deriveSeed(seed, 'data', 'eval'), data.evalPrompts, 'eval')),
      },
    };

    const counts: Record<string, number> = {};
    for (const [name, set] of Object.entries(sets)) {
      const manifest = await deps.store.getManifest(set.prefix);
      if (manifest) {
        if (canonicalJson(manifest.meta.source) !== canonicalJson(set.source)) {
          fail(
            `${deps.store.uri(set.prefix)}/ was prepared from ${JSON.stringify(manifest.meta.source)}, but this run asks for ${JSON.stringify(set.source)}; use another run name`,
            ErrorType.InvalidOptions,
          );
        }
        counts[name] = Number(manifest.meta.rows);
        continue;
      }
      const rows = await set.rows();
      const objects = [];
      if (set.shardSize) {
        for (const r of shardRanges(rows.length, set.shardSize)) {
          objects.push(await deps.store.writeJsonl(`${set.prefix}/${shardName(r.shard)}`, rows.slice(r.start, r.end)));
        }
      } else {
        objects.push(await deps.store.writeJsonl(`${set.prefix}/${set.file}`, rows));
      }
      await deps.store.commit(set.prefix, objects, { source: set.source, rows: rows.length });
      heartbeat({ dataset: name, key: set.prefix, rows: rows.length });
      counts[name] = rows.length;
    }
    return {
      sft: sets.sft.prefix,
      sftRows: counts.sft ?? 0,
      preferences: sets.preferences.prefix,
      preferenceRows: counts.preferences ?? 0,
      promptPool: sets.promptPool.prefix,
      poolSize: counts.promptPool ?? 0,
      evalPrompts: sets.evalPrompts.prefix,
      evalPromptCount: counts.evalPrompts ?? 0,
      task: data.evalPromptsUri ? null : data.task,
    };
  });
}
