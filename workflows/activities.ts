// Activity stubs per task queue, with timeouts, heartbeats and retry policy from the recipe's execution
// options and a one-line `summary` per call (shown on the activity in the Temporal UI).
import { proxyActivities, proxyLocalActivities, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import type { ControlActivities, InferenceActivities, TrainActivities } from '../activities/types';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors';
import { durationMs, type ExecutionOptions } from '../shared/recipe';
import { hasPatch } from './patches';

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

/** The control activities that read and write a few small objects (a slice of the prompt pool, the run config). */
export type ShortControlActivities = Pick<ControlActivities, 'selectPrompts' | 'recordRunConfig'>;

/**
 * Short control activities as local activities (patch `short-control-activities-local`): they run on the
 * rlhf-control worker that runs the workflow task, inside it, and the next command goes out in the same
 * task. A remote activity costs a dispatch and a workflow-task round trip (tens of milliseconds each on
 * the dev server) between two steps that take about as long. Still durable: the result is recorded in the
 * history (a marker); an attempt interrupted by a worker crash runs again, and every activity skips work
 * whose output prefix is committed. Same timeout and retry policy as the remote ones.
 *
 * Only for steps that stay short at any data size: while a local activity holds the workflow task, the
 * workflow answers no query and sees no signal, so a pause sent during it only holds the step after the next
 * one. Data import (prepareData), pair building (reads every score) and the run summary stay remote.
 */
export function shortControl(exec: ExecutionOptions, summary: string): ShortControlActivities {
  if (!hasPatch('short-control-activities-local')) return control(exec, summary);
  const { taskQueue: _queue, heartbeatTimeout: _heartbeat, ...rest } = options(exec, 'control', summary);
  const local: LocalActivityOptions = rest;
  return proxyLocalActivities<ShortControlActivities>(local);
}
