// Bradley–Terry reward model → runs/<run>/reward-model/checkpoint/: a LlamaForSequenceClassification whose
// decoder is initialised from `initFrom` (the SFT policy; same dimensions, read from its config.json) and a
// fresh scalar `score` head, trained with −log σ(r(x, y_c) − r(x, y_r)). Resumable.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PairRow } from '../engine/api';
import { FILE } from '../shared/layout';
import { deriveSeed } from '../shared/seeds';
import type { ModelCache } from './models';
import { applyOverlongPolicy } from './overlong';
import { activity, type Deps } from './support';
import { engineHyper, runStageTraining } from './training';
import type { TrainedModel, TrainRewardModelInput } from './types';

export function trainRewardModel(deps: Deps, models: ModelCache) {
  return activity('trainRewardModel', async (input: TrainRewardModelInput): Promise<TrainedModel> =>
    runStageTraining(deps, {
      run: input.run,
      stage: 'reward-model',
      checkpoint: input.checkpoint,
      engine: input.engine,
      train: async (common, work) => {
        const engine = await deps.engine();
        const initDir = await models.localDir(input.initFrom, 'reward-model initialisation');
        const cfg = JSON.parse(await readFile(join(initDir, 'config.json'), 'utf8')) as Record<string, unknown>;
        const dim = (name: keyof typeof input.demo): number => (typeof cfg[name] === 'number' ? (cfg[name] as number) : input.demo[name]);
        const modelDir = join(work, 'rm-init');
        await engine.initModel({
          dir: modelDir,
          architecture: 'LlamaForSequenceClassification',
          hidden_size: dim('hidden_size'),
          intermediate_size: dim('intermediate_size'),
          num_hidden_layers: dim('num_hidden_layers'),
          num_attention_heads: dim('num_attention_heads'),
          num_key_value_heads: dim('num_key_value_heads'),
          max_position_embeddings: dim('max_position_embeddings'),
          rope_theta: dim('rope_theta'),
          tokenizer: 'byte',
          seed: input.seed,
          initFrom: initDir,
        });
        const data = await deps.requireCommitted(input.data, 'preference data');
        const all = await data.store.readCommittedJsonlAll<PairRow>(data.prefix, FILE.preferences);
        const { rows, overlong } = await applyOverlongPolicy(engine, initDir, all, input.hyper.maxPromptLength, input.hyper.overlongPrompt, input.engine);
        const result = await engine.trainRewardModel({ ...common, modelDir, rows, hyper: engineHyper(input.hyper, deriveSeed(input.seed, 'reward-model')) });
        return { ...result, metrics: { ...result.metrics, overlongPrompts: overlong, rows: rows.length } };
      },
    }),
  );
}
