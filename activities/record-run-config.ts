// runs/<run>/config/run.json: the resolved recipe options of the run. A run name is bound to one
// configuration: restarting it with the same options resumes (every committed step is skipped); other
// options under the same name fail instead of mixing artifacts of two configurations.
import { ErrorType } from '../shared/errors';
import { FILE, layout } from '../shared/layout';
import { canonicalJson } from '../shared/store';
import { activity, fail, type Deps } from './support';
import type { ArtifactRef, RecordRunConfigInput } from './types';

export function recordRunConfig(deps: Deps) {
  return activity('recordRunConfig', async (input: RecordRunConfigInput): Promise<ArtifactRef> => {
    const prefix = layout.config(input.run);
    const store = deps.store;
    if (await store.isCommitted(prefix)) {
      const existing = await store.getCommittedJson<{ options: unknown }>(prefix, FILE.runConfig);
      if (canonicalJson(existing.options) !== canonicalJson(input.options)) {
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
