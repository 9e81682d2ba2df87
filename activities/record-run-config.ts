// runs/<run>/config/run.json: the resolved recipe options of the run. A run name is bound to one
// configuration: restarting it with the same options resumes (every committed step is skipped); other
// options under the same name fail instead of mixing artifacts of two configurations. `execution` (queues,
// timeouts, shard size, checkpoint interval) and `device` may differ: they change how a run executes, not
// what it computes, so a crashed run can be resumed on other workers.
import { ErrorType } from '../shared/errors';
import { FILE, layout } from '../shared/layout';
import type { RecipeOptions } from '../shared/recipe';
import { canonicalJson } from '../shared/store';
import { activity, fail, type Deps } from './support';
import type { ArtifactRef, RecordRunConfigInput } from './types';

export function recordRunConfig(deps: Deps) {
  return activity('recordRunConfig', async (input: RecordRunConfigInput): Promise<ArtifactRef> => {
    const prefix = layout.config(input.run);
    const store = deps.store;
    if (await store.isCommitted(prefix)) {
      const existing = await store.getCommittedJson<{ options: RecipeOptions }>(prefix, FILE.runConfig);
      if (canonicalJson(whatItComputes(existing.options)) !== canonicalJson(whatItComputes(input.options))) {
        fail(
          `run '${input.run}' already exists with other options (${store.uri(prefix)}/${FILE.runConfig}); resume it with the same options or choose another run name`,
          ErrorType.InvalidOptions,
        );
      }
      return prefix;
    }
    const obj = await store.putJson(`${prefix}/${FILE.runConfig}`, { run: input.run, workflowId: input.workflowId, options: input.options });
    await store.commit(prefix, [obj], { run: input.run });
    return prefix;
  });
}

/** The options that decide a run's artifacts. */
function whatItComputes(options: RecipeOptions): Omit<RecipeOptions, 'execution' | 'device'> {
  const { execution: _execution, device: _device, ...rest } = options;
  return rest;
}
