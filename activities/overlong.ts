// The over-long prompt policy for training rows: 'truncate' keeps every row (the trainer truncates the
// prompt to maxPromptLength tokens); 'drop' removes rows whose rendered prompt is longer. Both count them.
import type { Engine, Prompt } from '../engine/api';
import type { OverlongPromptPolicy } from '../shared/recipe';
import type { EngineSettings } from './types';

export async function applyOverlongPolicy<R extends { prompt: Prompt }>(
  engine: Engine,
  tokenizerModelDir: string,
  rows: R[],
  maxPromptLength: number,
  policy: OverlongPromptPolicy,
  settings: EngineSettings,
): Promise<{ rows: R[]; overlong: number }> {
  const model = await engine.loadPolicy(tokenizerModelDir, { device: settings.device, threads: settings.threads });
  try {
    const long = rows.map((r) => model.promptLength(r.prompt) > maxPromptLength);
    const overlong = long.filter(Boolean).length;
    return { rows: policy === 'drop' ? rows.filter((_, i) => !long[i]) : rows, overlong };
  } finally {
    await model.release();
  }
}
