// runs/<run>/summary/summary.json: models, per-iteration metrics and options of a finished run.
import { FILE, layout } from '../shared/layout';
import { activity, type Deps } from './support';
import type { ArtifactRef, RunSummaryInput } from './types';

export function writeRunSummary(deps: Deps) {
  return activity('writeRunSummary', async (input: RunSummaryInput): Promise<ArtifactRef> => {
    const prefix = layout.summary(input.run);
    const iterates = input.metrics.filter((m) => m.iteration > 0);
    const best = iterates.reduce<(typeof iterates)[number] | null>((b, m) => (b === null || m.meanReward > b.meanReward ? m : b), null);
    const summary = {
      run: input.run,
      workflowId: input.workflowId,
      stoppedEarly: input.stoppedEarly,
      iterations: iterates.length,
      models: input.models,
      bestIteration: best?.iteration ?? null,
      metrics: input.metrics,
      options: input.options,
    };
    const obj = await deps.store.putJson(`${prefix}/${FILE.summary}`, summary);
    await deps.store.commit(prefix, [obj], { iterations: iterates.length, bestIteration: best?.iteration ?? null });
    return prefix;
  });
}
