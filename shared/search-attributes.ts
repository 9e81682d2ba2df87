// Custom search attributes of durable-rlhf runs: filterable in the Temporal UI and `client.workflow.list`.
// The dev stack registers every key in SEARCH_ATTRIBUTES at server start (scripts/stack.ts).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Run id (the pipeline workflow's run name). */
export const RlhfRun = defineSearchAttributeKey('RlhfRun', SearchAttributeType.KEYWORD);
/** Sweep id, shared by every run of a sweep. */
export const RlhfSweep = defineSearchAttributeKey('RlhfSweep', SearchAttributeType.KEYWORD);
/** Current stage: sft, reward-model, iteration, eval, done. */
export const RlhfStage = defineSearchAttributeKey('RlhfStage', SearchAttributeType.KEYWORD);
/** Current online-DPO iteration (1-based). */
export const RlhfIteration = defineSearchAttributeKey('RlhfIteration', SearchAttributeType.INT);
/** DPO beta. */
export const RlhfBeta = defineSearchAttributeKey('RlhfBeta', SearchAttributeType.DOUBLE);
/** Learning rate. */
export const RlhfLearningRate = defineSearchAttributeKey('RlhfLearningRate', SearchAttributeType.DOUBLE);
/** Best mean reward on the held-out prompts so far. */
export const RlhfBestReward = defineSearchAttributeKey('RlhfBestReward', SearchAttributeType.DOUBLE);

export const SEARCH_ATTRIBUTES = [RlhfRun, RlhfSweep, RlhfStage, RlhfIteration, RlhfBeta, RlhfLearningRate, RlhfBestReward] as const;

const CLI_TYPE: Record<SearchAttributeType, string> = {
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

/** `Name=Type` pairs for `temporal server start-dev --search-attribute`. */
export function searchAttributeFlags(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${CLI_TYPE[key.type]}`]);
}
