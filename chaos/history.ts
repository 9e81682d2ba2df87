// Retry counts from workflow histories: the pipeline and every child / continued-as-new run, walked by run
// id. ActivityTaskStarted records the attempt that finished, so attempt − 1 retries happened before it.
import type { Client } from '@temporalio/client';

export interface RetryStats {
  workflows: number;
  activities: number;
  activityRetries: number;
  /** Workflow tasks that timed out or failed (e.g. the control worker died holding one). */
  workflowTaskFailures: number;
}

export async function retryStats(client: Client, workflowId: string, runId: string): Promise<RetryStats> {
  const stats: RetryStats = { workflows: 0, activities: 0, activityRetries: 0, workflowTaskFailures: 0 };
  const queue: Array<{ workflowId: string; runId: string }> = [{ workflowId, runId }];
  const seen = new Set<string>();
  while (queue.length > 0 && stats.workflows < 500) {
    const next = queue.shift() as { workflowId: string; runId: string };
    if (seen.has(next.runId)) continue;
    seen.add(next.runId);
    stats.workflows += 1;
    const history = await client.workflow.getHandle(next.workflowId, next.runId).fetchHistory();
    for (const ev of history.events ?? []) {
      const started = ev.activityTaskStartedEventAttributes;
      if (started) {
        stats.activities += 1;
        stats.activityRetries += Math.max(0, (started.attempt ?? 1) - 1);
      }
      if (ev.workflowTaskTimedOutEventAttributes || ev.workflowTaskFailedEventAttributes) stats.workflowTaskFailures += 1;
      const child = ev.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId && child.runId) queue.push({ workflowId: child.workflowId, runId: child.runId });
      const cont = ev.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (cont) queue.push({ workflowId: next.workflowId, runId: cont });
    }
  }
  return stats;
}
