import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { failureChain, oneLine } from '../../cli/errors';

describe('error lines', () => {
  it('reduce a Temporal failure chain to one line ending at the root cause', () => {
    const app = ApplicationFailure.create({ message: 'online.beta must be > 0', type: 'InvalidRecipeOptions' });
    const act = new ActivityFailure('Activity task failed', 'prepareData', '1', RetryState.NON_RETRYABLE_FAILURE, 'w', app);
    const child = new ChildWorkflowFailure('default', { workflowId: 'r/online', runId: 'x' }, 'onlineDpo', RetryState.NON_RETRYABLE_FAILURE, act);
    const line = failureChain(new WorkflowFailedError('Workflow execution failed', child, RetryState.NON_RETRYABLE_FAILURE));
    expect(line).toBe('Child Workflow execution failed: Activity task failed: InvalidRecipeOptions: online.beta must be > 0');
    expect(line).not.toContain('\n');
  });
  it('keep only the first line of multi-line messages', () => {
    expect(oneLine(new Error('first\n    at stack line'))).toBe('first');
    expect(oneLine('plain')).toBe('plain');
  });
});
