// Every workflow of durable-rlhf (the worker bundles this file). Type names are user interface: they are
// what the Temporal UI's "Start Workflow" and the CLI name.
export { rlhfPipeline, type RlhfPipelineInput, type RlhfPipelineResult } from './rlhf-pipeline';
export { supervisedFineTune, type SupervisedFineTuneInput, type SupervisedFineTuneResult } from './supervised-fine-tune';
export { trainRewardModel, type TrainRewardModelInput } from './train-reward-model';
export { onlineDpo, type OnlineDpoInput, type OnlineDpoResult, type OnlineDpoState } from './online-dpo';
export { dpoIteration, type DpoIterationInput, type DpoIterationResult } from './dpo-iteration';
