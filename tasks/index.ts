// Registry of demo tasks, by name.
import { createSortDigitsTask } from './sort-digits';
import type { DemoTask } from './types';

export type { DemoTask, PreferencePairRow, PromptRow, SftDemoRow, Split } from './types';

const registry: Record<string, () => DemoTask> = {
  'sort-digits': () => createSortDigitsTask(),
};

export const DEFAULT_TASK = 'sort-digits';

export function taskNames(): string[] {
  return Object.keys(registry).sort();
}

export function getTask(name: string): DemoTask {
  const make = registry[name];
  if (!make) throw new Error(`unknown task "${name}" (known: ${taskNames().join(', ')})`);
  return make();
}
