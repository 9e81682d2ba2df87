// runs/<run>/summary/summary.json (models, per-iteration metrics, options of the finished run) and
// runs/<run>/report/index.html (the self-contained HTML report of report/, with the training loss curves
// recorded in the model manifests).
import { reportDataFromRun, flattenOptions, lossCurveFrom } from '../report/from-run';
import { renderRunReport } from '../report';
import type { LossCurve } from '../report/types';
import { FILE, layout, type Stage } from '../shared/layout';
import { activity, heartbeat, type Deps } from './support';
import type { ArtifactRef, RunSummaryInput } from './types';

export function writeRunSummary(deps: Deps) {
  return activity('writeRunSummary', async (input: RunSummaryInput): Promise<ArtifactRef> => {
    const prefix = layout.summary(input.run);
    const iterates = input.metrics.filter((m) => m.iteration > 0);
    const best = iterates.reduce<(typeof iterates)[number] | null>((b, m) => (b === null || m.meanReward > b.meanReward ? m : b), null);

    const stages: Array<{ name: string; stage: Stage }> = [
      { name: 'sft', stage: 'sft' },
      { name: 'reward-model', stage: 'reward-model' },
      ...iterates.map((m) => ({ name: `iter-${String(m.iteration).padStart(4, '0')}`, stage: m.iteration })),
    ];
    const lossCurves: LossCurve[] = [];
    for (const s of stages) {
      const manifest = await deps.store.getManifest(layout.model(input.run, s.stage)).catch(() => null);
      const curve = manifest ? lossCurveFrom(s.name, manifest.meta.lossCurve) : undefined;
      if (curve) lossCurves.push(curve);
    }

    const summary = {
      run: input.run,
      workflowId: input.workflowId,
      stoppedEarly: input.stoppedEarly,
      iterations: iterates.length,
      models: input.models,
      bestIteration: best?.iteration ?? null,
      metrics: input.metrics,
      lossCurves,
      options: input.options,
    };
    const obj = await deps.store.putJson(`${prefix}/${FILE.summary}`, summary);
    await deps.store.commit(prefix, [obj], { iterations: iterates.length, bestIteration: best?.iteration ?? null });
    heartbeat({ key: `${prefix}/${FILE.summary}` });

    const html = renderRunReport(
      reportDataFromRun({
        run: input.run,
        workflowId: input.workflowId,
        status: input.stoppedEarly ? 'stopped early' : 'completed',
        task: input.options.data.promptsUri ? null : input.options.data.task,
        metrics: input.metrics,
        lossCurves,
        options: flattenOptions(input.options),
      }),
    );
    const report = layout.report(input.run);
    const page = await deps.store.putBytes(`${report}/index.html`, html, 'text/html; charset=utf-8');
    await deps.store.commit(report, [page], {});
    return prefix;
  });
}
