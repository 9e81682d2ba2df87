export { bradleyTerryLoss } from './bradley-terry';
export { dpoLoss } from './dpo';
export type { DpoLogps, DpoParams } from './dpo';
export { sequenceLogProbs, sftLoss } from './sft';
export { logSigmoid, softplus } from './softplus';
export { tokenLogProbs } from './token-logprobs';
