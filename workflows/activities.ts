// Activity stubs per task queue, with timeouts, heartbeats and retry policy from the recipe's execution
// options and a one-line `summary` per call (shown on the activity in the Temporal UI).
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { ControlActivities, InferenceActivities, TrainActivities } from '../activities/types';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors';
import { durationMs, type ExecutionOptions } from '../shared/recipe';

type Queue = 'control' | 'inference' | 'train';

function options(exec: ExecutionOptions, queue: Queue, summary: string): ActivityOptions {
  const t = exec.timeouts;
  const start = { control: t.control, inference: t.inference, train: t.train }[queue];
  const heartbeat = { control: t.controlHeartbeat, inference: t.inferenceHeartbeat, train: t.trainHeartbeat }[queue];
  return {
    taskQueue: exec.taskQueues[queue],
    startToCloseTimeout: durationMs(start) ?? 60_000,
    heartbeatTimeout: durationMs(heartbeat) ?? 60_000,
    retry: {
      maximumAttempts: exec.retry.maximumAttempts,
      initialInterval: durationMs(exec.retry.initialInterval) ?? 1000,
      maximumInterval: durationMs(exec.retry.maximumInterval) ?? 60_000,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
    summary,
  };
}

/** Light CPU activities on rlhf-control: data preparation, prompt selection, pairs, summary. */
export function control(exec: ExecutionOptions, summary: string): ControlActivities {
  return proxyActivities<ControlActivities>(options(exec, 'control', summary));
}

/** Generation, scoring and evaluation on rlhf-inference. */
export function inference(exec: ExecutionOptions, summary: string): InferenceActivities {
  return proxyActivities<InferenceActivities>(options(exec, 'inference', summary));
}

/** Model initialisation and training on rlhf-train. */
export function train(exec: ExecutionOptions, summary: string): TrainActivities {
  return proxyActivities<TrainActivities>(options(exec, 'train', summary));
}
