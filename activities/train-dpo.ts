// DPO of iteration t on its pairs only, policy initialised from π_{t−1}, reference π_ref →
// runs/<run>/iter-NNNN/policy/ (the published iterate). Loss (sigmoid):
// −log σ(β[(log π(y_c|x) − log π_ref(y_c|x)) − (log π(y_r|x) − log π_ref(y_r|x))]), with optional label
// smoothing and rpo_alpha NLL on chosen. Resumable (checkpoints under iter-NNNN/train/step-XXXXXX/).
import type { PairRow } from '../engine/api';
import { FILE, iterationName } from '../shared/layout';
import { deriveSeed } from '../shared/seeds';
import type { ModelCache } from './models';
import { activity, type Deps } from './support';
import { engineHyper, runStageTraining } from './training';
import type { TrainDpoInput, TrainedModel } from './types';

export function trainDpo(deps: Deps, models: ModelCache) {
  return activity('trainDpo', async (input: TrainDpoInput): Promise<TrainedModel> =>
    runStageTraining(deps, {
      run: input.run,
      stage: input.iteration,
      checkpoint: input.checkpoint,
      engine: input.engine,
      meta: { policy: input.policy, reference: input.reference, beta: input.hyper.beta },
      train: async (common) => {
        const engine = await deps.engine();
        const modelDir = await models.localDir(input.policy, 'policy π_{t−1}');
        const referenceDir = await models.localDir(input.reference, 'reference policy');
        const data = await deps.requireCommitted(input.pairs, 'preference pairs');
        const rows = await data.store.readCommittedJsonlAll<PairRow>(data.prefix, FILE.pairs);
        const h = input.hyper;
        return engine.trainDpo({
          ...common,
          modelDir,
          referenceDir,
          rows: rows.map((r) => ({ prompt: r.prompt, chosen: r.chosen, rejected: r.rejected })),
          hyper: {
            ...engineHyper(h, deriveSeed(input.seed, iterationName(input.iteration), 'dpo')),
            beta: h.beta,
            labelSmoothing: h.labelSmoothing,
            rpoAlpha: h.rpoAlpha,
            lossType: h.lossType,
          },
        });
      },
    }),
  );
}
