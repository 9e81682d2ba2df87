// Tiny workflows for the foundation tests: an activity writes and commits an artifact; a second one waits
// for a signal between two activities (so the test can restart the server in between).
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { FoundationActivities } from '../activities';

const acts = proxyActivities<FoundationActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5, initialInterval: '200ms' },
});

export interface CommitArtifactInput {
  prefix: string;
  rows: number;
}

/** Writes `rows` JSONL rows under `prefix`, commits them, then reads them back through the manifest. */
export async function commitArtifactWorkflow(input: CommitArtifactInput): Promise<{ committed: string; rows: number; sum: number }> {
  const committed = await acts.writeAndCommit(input);
  const { rows, sum } = await acts.readCommitted({ prefix: committed });
  return { committed, rows, sum };
}

export const proceed = defineSignal('proceed');

/** Commits a first artifact, waits for `proceed`, commits a second one. */
export async function twoStepWorkflow(input: { prefix: string }): Promise<string[]> {
  let go = false;
  setHandler(proceed, () => {
    go = true;
  });
  const first = await acts.writeAndCommit({ prefix: `${input.prefix}/first`, rows: 3 });
  await condition(() => go);
  const second = await acts.writeAndCommit({ prefix: `${input.prefix}/second`, rows: 5 });
  return [first, second];
}

/** Runs one slow activity (for the graceful-shutdown test). */
export async function slowActivityWorkflow(input: { ms: number }): Promise<string> {
  return acts.slow(input);
}
