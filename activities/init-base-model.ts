// The demo base model: a tiny Llama (byte tokenizer) initialised from scratch with the run seed, at
// runs/<run>/base/model/ (Hugging Face layout). Skipped when committed.
import { join } from 'node:path';
import { layout } from '../shared/layout';
import { activity, heartbeat, type Deps } from './support';
import type { ArtifactRef, InitBaseModelInput } from './types';

export function initBaseModel(deps: Deps) {
  return activity('initBaseModel', async (input: InitBaseModelInput): Promise<ArtifactRef> => {
    const prefix = layout.baseModel(input.run);
    if (await deps.store.isCommitted(prefix)) return prefix;
    const engine = await deps.engine();
    const scratch = await deps.scratch(`base-${input.run}`);
    try {
      const dir = join(scratch.dir, 'model');
      await engine.initModel({ dir, architecture: 'LlamaForCausalLM', ...input.demo, tokenizer: 'byte', seed: input.seed });
      heartbeat({ phase: 'upload', key: prefix });
      await deps.store.uploadDir(prefix, dir, { seed: input.seed, demo: input.demo });
      return prefix;
    } finally {
      await scratch.cleanup();
    }
  });
}
