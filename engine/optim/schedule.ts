// Learning-rate schedules as Hugging Face transformers (`get_scheduler`): the multiplier of the base lr at
// optimizer step `step` (0-based: the first update uses step 0, so with warm-up it has lr 0, as in HF).
//   warm-up:  step / max(1, W)                                   for step < W
//   linear:   max(0, (T − step) / max(1, T − W))
//   cosine:   max(0, ½(1 + cos(π · (step − W) / max(1, T − W))))  (num_cycles = 0.5)
//   constant: 1

import type { Schedule } from '../api';

/** Warm-up steps from a ratio as TrainingArguments.get_warmup_steps: ceil(T · ratio). */
export function warmupSteps(totalSteps: number, warmupRatio: number): number {
  return Math.ceil(totalSteps * warmupRatio);
}

export function lrMultiplier(schedule: Schedule, step: number, totalSteps: number, warmup: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  const rest = Math.max(1, totalSteps - warmup);
  switch (schedule) {
    case 'constant':
      return 1;
    case 'linear':
      return Math.max(0, (totalSteps - step) / rest);
    case 'cosine': {
      const progress = (step - warmup) / rest;
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * progress)));
    }
  }
}

/** The learning rate of optimizer step `step` (0-based). */
export function learningRateAt(
  h: { learningRate: number; schedule: Schedule; warmupRatio: number },
  step: number,
  totalSteps: number,
): number {
  return h.learningRate * lrMultiplier(h.schedule, step, totalSteps, warmupSteps(totalSteps, h.warmupRatio));
}
