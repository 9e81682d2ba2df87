// The offline-DPO baseline on the same budget (recipe.md: "the same recipe, offline DPO"): one DPO round on
// ALL T×N prompts, with pairs sampled once from the SFT model π0 and scored by the same reward model, trained
// for the same epochs (so the same number of optimizer steps) and evaluated on the same held-out prompts.
// It is an ordinary rlhfPipeline run that reuses the online run's SFT model and reward model
// (`models.sft`/`models.reward` skip those stages) with `online.iterations = 1`: its prompt pool is the same
// seeded pool of size T×N, so it sees exactly the prompts the online run spreads over T iterations.
import { promptPoolSize, type RecipeInput, type RecipeOptions } from '../shared/recipe';

export const OFFLINE_SUFFIX = 'offline-dpo';

/** Workflow id (and run name) of the baseline of a run: `<id>/offline-dpo`, next to the run in S3. */
export function offlineId(workflowId: string): string {
  return `${workflowId}/${OFFLINE_SUFFIX}`;
}

/** `s3://bucket/key` for an artifact ref that is a key in the configured bucket. */
export function toS3Uri(ref: string, bucket: string): string {
  return ref.startsWith('s3://') ? ref : `s3://${bucket}/${ref.replace(/^\/+/, '')}`;
}

export function offlineBaselineInput(input: RecipeInput, recipe: RecipeOptions, models: { sft: string; reward: string }, bucket: string): RecipeInput {
  const i = input as Record<string, Record<string, unknown> | undefined>;
  return {
    ...input,
    models: { ...(i.models ?? {}), sft: toS3Uri(models.sft, bucket), reward: toS3Uri(models.reward, bucket) },
    online: { ...(i.online ?? {}), iterations: 1, promptsPerIteration: recipe.online.iterations * recipe.online.promptsPerIteration },
    data: { ...(i.data ?? {}), promptPool: promptPoolSize(recipe) },
  } as RecipeInput;
}
