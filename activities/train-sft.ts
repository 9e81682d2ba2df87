// Supervised fine-tuning (token cross-entropy on response tokens) of the base model on the run's
// demonstrations → runs/<run>/sft/checkpoint/. Resumable (activities/training.ts).
import type { SftRow } from '../engine/api';
import { FILE } from '../shared/layout';
import { deriveSeed } from '../shared/seeds';
import type { ModelCache } from './models';
import { applyOverlongPolicy } from './overlong';
import { activity, type Deps } from './support';
import { engineHyper, runStageTraining } from './training';
import type { TrainedModel, TrainSftInput } from './types';

export function trainSft(deps: Deps, models: ModelCache) {
  return activity('trainSft', async (input: TrainSftInput): Promise<TrainedModel> =>
    runStageTraining(deps, {
      run: input.run,
      stage: 'sft',
      checkpoint: input.checkpoint,
      engine: input.engine,
      train: async (common) => {
        const engine = await deps.engine();
        const modelDir = await models.localDir(input.baseModel, 'base model');
        const data = await deps.requireCommitted(input.data, 'SFT data');
        const all = await data.store.readCommittedJsonlAll<SftRow>(data.prefix, FILE.sftRows);
        const { rows, overlong } = await applyOverlongPolicy(engine, modelDir, all, input.hyper.maxPromptLength, input.hyper.overlongPrompt, input.engine);
        const result = await engine.trainSft({ ...common, modelDir, rows, hyper: engineHyper(input.hyper, deriveSeed(input.seed, 'sft')) });
        return { ...result, metrics: { ...result.metrics, overlongPrompts: overlong, rows: rows.length } };
      },
    }),
  );
}
