// A demo task: a problem with an exact ground truth ("gold" grader), small enough for a tiny byte-level
// Llama to learn on CPU, with seeded generators for every dataset the recipe consumes.
import type { Prompt } from '../engine/api';

/** A prompt row (recipe format `{"prompt"}`). */
export interface PromptRow {
  prompt: Prompt;
}

/** An SFT demonstration (`{"prompt","response"}`). */
export interface SftDemoRow {
  prompt: Prompt;
  response: string;
}

/** A preference pair in TRL DPO format (`{"prompt","chosen","rejected"}`). */
export interface PreferencePairRow {
  prompt: Prompt;
  chosen: string;
  rejected: string;
}

/** Which part of the prompt space: training data (SFT, RM pairs, DPO prompt pool) or held-out evaluation. */
export type Split = 'train' | 'eval';

export interface DemoTask {
  readonly name: string;
  readonly description: string;
  /** Generation settings that suit the task (responses are short and end at a newline). */
  readonly generation: { maxNewTokens: number; stopStrings: string[] };
  /** n prompts from the given split (default 'train'); 'train' and 'eval' prompts never overlap. */
  makePrompts(seed: string, n: number, split?: Split): PromptRow[];
  /** Gold score of a response in [0, 1]; 1 only for the exact answer. */
  grade(prompt: Prompt, response: string): number;
  /** n imperfect demonstrations: a fixed fraction carry a mistake, so SFT leaves room for DPO. */
  makeSftRows(seed: string, n: number): SftDemoRow[];
  /** n gold-labelled pairs of responses of varying quality; each label is flipped with a fixed probability. */
  makePreferencePairs(seed: string, n: number): PreferencePairRow[];
}
