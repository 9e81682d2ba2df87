// The activities of durable-rlhf, one object per task queue. workers/main.ts calls createActivities(deps).
//   rlhf-control:   recordRunConfig, prepareData, selectPrompts, buildPairs, writeRunSummary
//   rlhf-inference: generateShard, scoreShard, evaluateModel
//   rlhf-train:     initBaseModel, trainSft, trainRewardModel, trainDpo
import { buildPairs } from './build-pairs';
import { EngineTurns, inTurns, type TurnObserver } from './engine-turns';
import { evaluateModel } from './evaluate-model';
import { generateShard } from './generate-shard';
import { initBaseModel } from './init-base-model';
import { ModelCache } from './models';
import { prepareData } from './prepare-data';
import { recordRunConfig } from './record-run-config';
import { scoreShard } from './score-shard';
import { selectPrompts } from './select-prompts';
import { Deps, type ActivityDeps } from './support';
import { trainDpo } from './train-dpo';
import { trainRewardModel } from './train-reward-model';
import { trainSft } from './train-sft';
import type { RlhfActivities } from './types';
import { writeRunSummary } from './write-run-summary';

export type { ActivityDeps } from './support';
export type * from './types';

/**
 * `onInferenceTurn`: told when an inference task starts its engine work (the bench times that work from there when
 * the worker prefetches).
 */
export function createActivities(raw: ActivityDeps, options: { onInferenceTurn?: TurnObserver } = {}): RlhfActivities {
  const deps = new Deps(raw);
  // Inference tasks run RLHF_INFERENCE_CONCURRENCY at a time; a prefetching worker holds more, waiting their turn.
  const turns = new EngineTurns(raw.config.worker.maxConcurrentActivities.inference, options.onInferenceTurn ? { onTurn: options.onInferenceTurn } : {});
  const inferenceModels = new ModelCache(deps);
  const trainModels = new ModelCache(deps, { policies: 0, rewardModels: 0 });
  return {
    control: {
      recordRunConfig: recordRunConfig(deps),
      prepareData: prepareData(deps),
      selectPrompts: selectPrompts(deps),
      buildPairs: buildPairs(deps),
      writeRunSummary: writeRunSummary(deps),
    },
    inference: inTurns(turns, {
      generateShard: generateShard(deps, inferenceModels),
      scoreShard: scoreShard(deps, inferenceModels),
      evaluateModel: evaluateModel(deps, inferenceModels),
    }),
    train: {
      initBaseModel: initBaseModel(deps),
      trainSft: trainSft(deps, trainModels),
      trainRewardModel: trainRewardModel(deps, trainModels),
      trainDpo: trainDpo(deps, trainModels),
    },
  };
}
