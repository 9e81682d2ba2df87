export { buildLlama, buildLlamaGraph, DIMS, headOf, linear, llamaWeightSpecs, poolLastToken, rmsNorm } from './llama';
export type { LlamaHead, LlamaModel, LlamaOptions, WeightSpec } from './llama';
export {
  buildDpoTrainGraph,
  buildLogProbGraph,
  buildRewardTrainGraph,
  buildSftTrainGraph,
  GRAD_PREFIX,
  gradName,
} from './train-graphs';
export type { LogProbGraphOptions, TrainGraph, TrainGraphOptions } from './train-graphs';
