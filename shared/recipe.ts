// Recipe options: every knob of the online iterative DPO recipe (RLHF Workflow, Xiong, Dong et al. 2024),
// with defaults sized for the CPU demo (a tiny byte-level Llama on the `sort-digits` task; `{}` runs in
// about 2 minutes on 2 CPU cores; gold on 2048 held-out prompts in our run: SFT 0.603, offline DPO 0.607,
// online iterations 0.602 → 0.613 → 0.622). The paper's value
// is given next to each default as "paper: ...". `resolveRecipe(input)` merges a partial input over the
// defaults, rejects unknown keys and bad values with messages that name the field, and returns the full
// options. Pure module (no Node builtins): workflows import it.

export type Device = 'cpu' | 'cuda' | 'webgpu';
export type Schedule = 'cosine' | 'linear' | 'constant';
/** How chosen/rejected are picked among the K scored responses (names from the public RLHFlow code). */
export type PairSelector = 'max_min' | 'max_random' | 'random' | 'max_max' | 'max_min_p';
/** Equal selection scores: `drop` the prompt (paper) or `keep` the pair (margin 0; responses must differ). */
export type TieRule = 'drop' | 'keep';
/** DPO reference policy: the SFT model π0 throughout (paper) or the previous iterate π_{t−1} (public code ≥ Oct 2024). */
export type ReferenceChoice = 'sft' | 'previous';
/** Prompts longer than maxPromptLength tokens: `truncate` (kept; the trainer truncates) or `drop` (counted). */
export type OverlongPromptPolicy = 'truncate' | 'drop';
export type LossType = 'sigmoid' | 'ipo';

/** A Temporal duration: milliseconds, or a string such as '90s', '10 minutes', '2h'. */
export type DurationText = string | number;

export interface TrainOptions {
  learningRate: number;
  schedule: Schedule;
  warmupRatio: number;
  epochs: number;
  /** Per optimizer step, before accumulation. */
  batchSize: number;
  gradientAccumulation: number;
  /** Tokens of prompt + response. */
  maxLength: number;
  maxPromptLength: number;
  overlongPrompt: OverlongPromptPolicy;
  weightDecay: number;
  maxGradNorm: number;
}

export interface OnlineOptions extends TrainOptions {
  /** T, the number of online iterations. */
  iterations: number;
  /** New prompts per iteration (disjoint slices of the prompt pool). */
  promptsPerIteration: number;
  /** K, responses per prompt. */
  k: number;
  /** Sampling temperatures, split evenly over the K samples (K must be a multiple of the list length). */
  temperatures: number[];
  topP: number;
  maxNewTokens: number;
  stopStrings: string[];
  pairSelector: PairSelector;
  tieRule: TieRule;
  /** Keep a pair only when its margin (selection score of chosen − rejected) is ≥ this. */
  marginThreshold: number;
  /** λ in r − λ·|y| (|y| in characters) used to select pairs; 0: off. */
  lengthPenalty: number;
  reference: ReferenceChoice;
  beta: number;
  labelSmoothing: number;
  rpoAlpha: number;
  lossType: LossType;
}

export interface DataOptions {
  /** Demo task that generates every dataset (tasks/); ignored for datasets given as s3:// URIs below. */
  task: string;
  sftExamples: number;
  preferencePairs: number;
  /** Prompt-pool size; 0 → exactly iterations × promptsPerIteration. */
  promptPool: number;
  evalPrompts: number;
  /** Optional imports (s3://bucket/key of a JSONL object). */
  sftUri: string | null;
  preferencesUri: string | null;
  promptsUri: string | null;
  evalPromptsUri: string | null;
}

/** A tiny Llama created from scratch when no base model is given (engine/api.ts InitModelOptions). */
export interface DemoModelOptions {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  max_position_embeddings: number;
  rope_theta: number;
}

export interface ModelOptions {
  /** s3:// HF-layout folder of the base model; null → initialise `demo` from scratch. */
  base: string | null;
  /** s3:// HF-layout folder of an SFT policy; given → the SFT stage is skipped. */
  sft: string | null;
  /** s3:// HF-layout folder of a reward model; given → the reward-model stage is skipped. */
  reward: string | null;
  demo: DemoModelOptions;
}

export interface EvaluationOptions {
  /** Held-out prompts evaluated per iterate (≤ data.evalPrompts). */
  prompts: number;
  /** Sampling temperature of the evaluation responses. At 1 the KL estimate E_y~π[log π − log π_ref] is
   * unbiased; below 1 it is not (responses are not drawn from π). */
  temperature: number;
  maxNewTokens: number;
}

export interface TimeoutOptions {
  /** startToCloseTimeout per queue. */
  control: DurationText;
  inference: DurationText;
  train: DurationText;
  /** heartbeatTimeout per queue. */
  controlHeartbeat: DurationText;
  inferenceHeartbeat: DurationText;
  trainHeartbeat: DurationText;
}

export interface ExecutionOptions {
  /** Prompts per generation/scoring shard. */
  shardSize: number;
  /** Shards in flight at once on rlhf-inference (bounded fan-out). */
  inferenceWindow: number;
  checkpointEverySteps: number;
  checkpointEverySeconds: number;
  /** onlineDpo continues as new when history exceeds this many events (or the server suggests it). */
  continueAsNewAfterEvents: number;
  /** ORT intra-op threads of the engine. */
  threads: number;
  taskQueues: { control: string; inference: string; train: string };
  timeouts: TimeoutOptions;
  retry: { maximumAttempts: number; initialInterval: DurationText; maximumInterval: DurationText };
  /** Upsert the Rlhf* search attributes (they must be registered on the namespace). */
  searchAttributes: boolean;
}

export interface RecipeOptions {
  /** Run seed (public code: 42). Every step's seed derives from it (shared/seeds.ts). */
  seed: number;
  device: Device;
  data: DataOptions;
  models: ModelOptions;
  sft: TrainOptions;
  reward: TrainOptions;
  online: OnlineOptions;
  evaluation: EvaluationOptions;
  execution: ExecutionOptions;
}

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** What a user gives: any subset of the options. `{}` is the demo configuration. */
export type RecipeInput = DeepPartial<RecipeOptions>;

export const RECIPE_DEFAULTS: RecipeOptions = {
  seed: 42, // paper (public code): 42
  device: 'cpu',
  data: {
    task: 'sort-digits',
    sftExamples: 2048,
    preferencePairs: 4096,
    promptPool: 0,
    evalPrompts: 2048, // held-out pool; large so the gold mean has a standard error of ≈ 0.007
    sftUri: null,
    preferencesUri: null,
    promptsUri: null,
    evalPromptsUri: null,
  },
  models: {
    base: null,
    sft: null,
    reward: null,
    demo: {
      hidden_size: 64,
      intermediate_size: 192,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 64,
      rope_theta: 10000,
    },
  },
  sft: {
    learningRate: 3e-3, // paper: 2e-5 (Llama-3-8B)
    schedule: 'cosine', // paper: cosine
    warmupRatio: 0.03, // paper: 0.03
    epochs: 3, // paper: 1
    batchSize: 32, // paper: global batch 32
    gradientAccumulation: 1,
    maxLength: 64, // paper: packing to 8192
    maxPromptLength: 32,
    overlongPrompt: 'truncate',
    weightDecay: 0,
    maxGradNorm: 1,
  },
  reward: {
    learningRate: 1e-3, // paper: 2e-6
    schedule: 'cosine', // paper: cosine
    warmupRatio: 0.03, // paper: 0.03
    epochs: 4, // paper: 1
    batchSize: 32, // paper: global batch 512
    gradientAccumulation: 1,
    maxLength: 64, // paper: 4096
    maxPromptLength: 32,
    overlongPrompt: 'truncate',
    weightDecay: 0,
    maxGradNorm: 1,
  },
  online: {
    iterations: 3, // paper: T = 3
    promptsPerIteration: 256, // paper: 20,000
    k: 8, // paper: 8 (public code: 8 or 4)
    temperatures: [1.0, 0.7], // paper: half at 1.0, half at 0.7 (public code: [1.0])
    topP: 1, // paper: no top-p
    maxNewTokens: 12, // paper: 2048
    stopStrings: ['\n'], // demo task answers end at a newline; paper: eos only → []
    pairSelector: 'max_min', // paper: max_min
    tieRule: 'drop', // paper: drop equal rewards / identical responses
    marginThreshold: 0,
    lengthPenalty: 0, // paper "concise" variant: 0.001
    reference: 'sft', // paper: SFT model; public code since Oct 2024: previous iterate
    beta: 0.1, // paper: 0.1
    labelSmoothing: 0, // paper: 0
    rpoAlpha: 0, // paper: off
    lossType: 'sigmoid', // paper: sigmoid
    learningRate: 1e-4, // paper: 5e-7
    schedule: 'cosine', // paper: cosine
    warmupRatio: 0.03, // paper: 0.03
    epochs: 2, // paper: 2
    batchSize: 16, // paper: global batch 128
    gradientAccumulation: 1,
    maxLength: 64, // paper: 2048
    maxPromptLength: 32, // paper: 1000
    overlongPrompt: 'truncate',
    weightDecay: 0,
    maxGradNorm: 1,
  },
  evaluation: { prompts: 2048, temperature: 1, maxNewTokens: 12 }, // paper: AlpacaEval-2, MT-Bench, Arena-Hard
  execution: {
    shardSize: 64,
    inferenceWindow: 4,
    checkpointEverySteps: 20,
    checkpointEverySeconds: 300,
    continueAsNewAfterEvents: 10_000,
    threads: 1,
    taskQueues: { control: 'rlhf-control', inference: 'rlhf-inference', train: 'rlhf-train' },
    timeouts: {
      control: '10 minutes',
      inference: '2 hours',
      train: '12 hours',
      controlHeartbeat: '1 minute',
      inferenceHeartbeat: '1 minute',
      trainHeartbeat: '2 minutes',
    },
    retry: { maximumAttempts: 5, initialInterval: '2s', maximumInterval: '2 minutes' },
    searchAttributes: true,
  },
};

/** Options rejected; `problems` lists every bad field ("online.beta must be > 0 (got -1)"). */
export class RecipeError extends Error {
  override name = 'RecipeError';
  constructor(readonly problems: string[]) {
    super(`invalid recipe options: ${problems.join('; ')}`);
  }
}

// ------------------------------------------------------------------------------------------ durations

const UNIT_MS: Record<string, number> = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** Milliseconds of a duration (number = ms; '90s', '10 minutes', '2h'); undefined when not a duration. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase();
  const scale = unit === '' ? 1 : UNIT_MS[unit];
  if (scale === undefined) return undefined;
  const ms = Number(m[1]) * scale;
  return ms > 0 ? ms : undefined;
}

// ------------------------------------------------------------------------------------------ rules

type Rule = (value: unknown) => string | undefined;

const fmt = (v: unknown): string => JSON.stringify(v) ?? String(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Rule =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max
      ? undefined
      : `must be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`} (got ${fmt(v)})`;
const positive: Rule = (v) => (isNum(v) && v > 0 ? undefined : `must be > 0 (got ${fmt(v)})`);
const nonNegative: Rule = (v) => (isNum(v) && v >= 0 ? undefined : `must be ≥ 0 (got ${fmt(v)})`);
const range =
  (lo: number, hi: number, hiOpen = false): Rule =>
  (v) =>
    isNum(v) && v >= lo && (hiOpen ? v < hi : v <= hi) ? undefined : `must be in [${lo}, ${hi}${hiOpen ? ')' : ']'} (got ${fmt(v)})`;
const openClosed =
  (lo: number, hi: number): Rule =>
  (v) =>
    isNum(v) && v > lo && v <= hi ? undefined : `must be in (${lo}, ${hi}] (got ${fmt(v)})`;
const oneOf =
  (...values: string[]): Rule =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.map((x) => `'${x}'`).join(', ')} (got ${fmt(v)})`;
const bool: Rule = (v) => (typeof v === 'boolean' ? undefined : `must be true or false (got ${fmt(v)})`);
const duration: Rule = (v) => (durationMs(v) !== undefined ? undefined : `must be a duration such as '90s', '10 minutes' or a number of ms (got ${fmt(v)})`);
const name: Rule = (v) => (typeof v === 'string' && /^[A-Za-z0-9._-]{1,200}$/.test(v) ? undefined : `must be a name of letters, digits, '.', '_', '-' (got ${fmt(v)})`);
const s3UriOrNull: Rule = (v) =>
  v === null || (typeof v === 'string' && /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(v))
    ? undefined
    : `must be an s3://bucket/key URI or null (got ${fmt(v)})`;
const stringList: Rule = (v) => (Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '') ? undefined : `must be a list of non-empty strings (got ${fmt(v)})`);
const temperatures: Rule = (v) =>
  Array.isArray(v) && v.length > 0 && v.every((t) => isNum(t) && t > 0 && t <= 10)
    ? undefined
    : `must be a non-empty list of temperatures in (0, 10] (got ${fmt(v)})`;

function trainRules(prefix: string): Record<string, Rule> {
  return {
    [`${prefix}.learningRate`]: openClosed(0, 1),
    [`${prefix}.schedule`]: oneOf('cosine', 'linear', 'constant'),
    [`${prefix}.warmupRatio`]: range(0, 1, true),
    [`${prefix}.epochs`]: int(1, 1000),
    [`${prefix}.batchSize`]: int(1, 1_000_000),
    [`${prefix}.gradientAccumulation`]: int(1, 100_000),
    [`${prefix}.maxLength`]: int(2, 1_000_000),
    [`${prefix}.maxPromptLength`]: int(1, 1_000_000),
    [`${prefix}.overlongPrompt`]: oneOf('truncate', 'drop'),
    [`${prefix}.weightDecay`]: nonNegative,
    [`${prefix}.maxGradNorm`]: nonNegative,
  };
}

/** One rule per leaf of RecipeOptions (a test checks that every default leaf has one). */
export const RULES: Record<string, Rule> = {
  seed: int(0, 2 ** 32 - 1),
  device: oneOf('cpu', 'cuda', 'webgpu'),
  'data.task': name,
  'data.sftExamples': int(1),
  'data.preferencePairs': int(1),
  'data.promptPool': int(0),
  'data.evalPrompts': int(1),
  'data.sftUri': s3UriOrNull,
  'data.preferencesUri': s3UriOrNull,
  'data.promptsUri': s3UriOrNull,
  'data.evalPromptsUri': s3UriOrNull,
  'models.base': s3UriOrNull,
  'models.sft': s3UriOrNull,
  'models.reward': s3UriOrNull,
  'models.demo.hidden_size': int(4, 65_536),
  'models.demo.intermediate_size': int(4, 262_144),
  'models.demo.num_hidden_layers': int(1, 256),
  'models.demo.num_attention_heads': int(1, 1024),
  'models.demo.num_key_value_heads': int(1, 1024),
  'models.demo.max_position_embeddings': int(8, 1_048_576),
  'models.demo.rope_theta': positive,
  ...trainRules('sft'),
  ...trainRules('reward'),
  ...trainRules('online'),
  'online.iterations': int(1, 9999),
  'online.promptsPerIteration': int(1),
  'online.k': int(2, 1024),
  'online.temperatures': temperatures,
  'online.topP': openClosed(0, 1),
  'online.maxNewTokens': int(1, 1_000_000),
  'online.stopStrings': stringList,
  'online.pairSelector': oneOf('max_min', 'max_random', 'random', 'max_max', 'max_min_p'),
  'online.tieRule': oneOf('drop', 'keep'),
  'online.marginThreshold': nonNegative,
  'online.lengthPenalty': nonNegative,
  'online.reference': oneOf('sft', 'previous'),
  'online.beta': positive,
  'online.labelSmoothing': range(0, 0.5, true),
  'online.rpoAlpha': nonNegative,
  'online.lossType': oneOf('sigmoid', 'ipo'),
  'evaluation.prompts': int(1),
  'evaluation.temperature': range(0, 10),
  'evaluation.maxNewTokens': int(1, 1_000_000),
  'execution.shardSize': int(1, 1_000_000),
  'execution.inferenceWindow': int(1, 1000),
  'execution.checkpointEverySteps': int(1),
  'execution.checkpointEverySeconds': positive,
  'execution.continueAsNewAfterEvents': int(1, 50_000),
  'execution.threads': int(1, 1024),
  'execution.taskQueues.control': name,
  'execution.taskQueues.inference': name,
  'execution.taskQueues.train': name,
  'execution.timeouts.control': duration,
  'execution.timeouts.inference': duration,
  'execution.timeouts.train': duration,
  'execution.timeouts.controlHeartbeat': duration,
  'execution.timeouts.inferenceHeartbeat': duration,
  'execution.timeouts.trainHeartbeat': duration,
  'execution.retry.maximumAttempts': int(1, 1000),
  'execution.retry.initialInterval': duration,
  'execution.retry.maximumInterval': duration,
  'execution.searchAttributes': bool,
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Merges `input` over `defaults`; unknown keys and objects in place of values are reported. */
function merge(defaults: unknown, input: unknown, path: string, problems: string[]): unknown {
  if (input === undefined) return structuredCloneJson(defaults);
  if (!isPlainObject(defaults)) return input;
  if (!isPlainObject(input)) {
    problems.push(`${path || 'input'} must be an object (got ${fmt(input)})`);
    return structuredCloneJson(defaults);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (!(key in defaults)) problems.push(`unknown option '${path ? `${path}.` : ''}${key}' (known: ${Object.keys(defaults).join(', ')})`);
  }
  for (const [key, d] of Object.entries(defaults)) out[key] = merge(d, input[key], path ? `${path}.${key}` : key, problems);
  return out;
}

function structuredCloneJson<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function leaves(value: unknown, path: string, out: Array<[string, unknown]>): Array<[string, unknown]> {
  if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out);
  else out.push([path, value]);
  return out;
}

/** Every problem of a full options object: per-field rules, then cross-field checks. */
export function recipeProblems(options: RecipeOptions): string[] {
  const problems: string[] = [];
  for (const [path, value] of leaves(options, '', [])) {
    const rule = RULES[path];
    const problem = rule ? rule(value) : `no rule for option '${path}'`;
    if (problem) problems.push(`${path} ${problem}`);
  }
  if (problems.length > 0) return problems;
  const o = options.online;
  problems.push(...samplingProblems(o.k, o.temperatures, 'online'));
  if (o.pairSelector === 'max_min_p' && o.lengthPenalty <= 0) problems.push(`online.pairSelector 'max_min_p' needs online.lengthPenalty > 0 (got ${o.lengthPenalty})`);
  for (const stage of ['sft', 'reward', 'online'] as const) {
    const t = options[stage];
    if (t.maxPromptLength >= t.maxLength) problems.push(`${stage}.maxPromptLength (${t.maxPromptLength}) must be < ${stage}.maxLength (${t.maxLength})`);
  }
  const needed = o.iterations * o.promptsPerIteration;
  if (options.data.promptPool !== 0 && options.data.promptPool < needed) {
    problems.push(`data.promptPool (${options.data.promptPool}) must be ≥ online.iterations × online.promptsPerIteration (${needed}), or 0 for exactly that`);
  }
  if (options.evaluation.prompts > options.data.evalPrompts && options.data.evalPromptsUri === null) {
    problems.push(`evaluation.prompts (${options.evaluation.prompts}) must be ≤ data.evalPrompts (${options.data.evalPrompts})`);
  }
  const d = options.models.demo;
  if (d.hidden_size % d.num_attention_heads !== 0) problems.push(`models.demo.hidden_size (${d.hidden_size}) must be a multiple of num_attention_heads (${d.num_attention_heads})`);
  if (d.num_attention_heads % d.num_key_value_heads !== 0) {
    problems.push(`models.demo.num_attention_heads (${d.num_attention_heads}) must be a multiple of num_key_value_heads (${d.num_key_value_heads})`);
  }
  return problems;
}

/** K and temperatures: K ≥ 2 and K a multiple of the number of temperatures (an even split). */
export function samplingProblems(k: number, temps: number[], path: string): string[] {
  if (k % temps.length !== 0) {
    return [`${path}.k (${k}) must be a multiple of the number of ${path}.temperatures (${temps.length}) so they split evenly`];
  }
  return [];
}

/** Full options from a partial input; throws RecipeError listing every problem. */
export function resolveRecipe(input: unknown = {}): RecipeOptions {
  const problems: string[] = [];
  const merged = merge(RECIPE_DEFAULTS, input ?? {}, '', problems) as RecipeOptions;
  if (problems.length > 0) throw new RecipeError(problems);
  const more = recipeProblems(merged);
  if (more.length > 0) throw new RecipeError(more);
  return merged;
}

/** Size of the prompt pool the run needs. */
export function promptPoolSize(options: RecipeOptions): number {
  return options.data.promptPool || options.online.iterations * options.online.promptsPerIteration;
}

// ------------------------------------------------------------------------------------------ live changes

/** Options a running loop may change for the iterations that follow (update `setNextIterationOptions`). */
export interface NextIterationOptions {
  beta?: number;
  learningRate?: number;
  k?: number;
  temperatures?: number[];
}

const NEXT_KEYS = ['beta', 'learningRate', 'k', 'temperatures'] as const;

/** Problems of a change, checked against the options it would apply to (K must still split the temperatures). */
export function nextIterationOptionsProblems(change: unknown, current: Pick<OnlineOptions, 'k' | 'temperatures'>): string[] {
  if (!isPlainObject(change)) return [`options must be an object with any of ${NEXT_KEYS.join(', ')} (got ${fmt(change)})`];
  const problems: string[] = [];
  const keys = Object.keys(change);
  if (keys.length === 0) problems.push(`options must set at least one of ${NEXT_KEYS.join(', ')}`);
  for (const key of keys) {
    if (!(NEXT_KEYS as readonly string[]).includes(key)) {
      problems.push(`'${key}' cannot be changed while running (allowed: ${NEXT_KEYS.join(', ')})`);
      continue;
    }
    const problem = RULES[`online.${key}`]?.(change[key]);
    if (problem) problems.push(`${key} ${problem}`);
  }
  if (problems.length > 0) return problems;
  const c = change as NextIterationOptions;
  return samplingProblems(c.k ?? current.k, c.temperatures ?? current.temperatures, 'online').map((p) => p.replace(/online\./g, ''));
}

/** The online options with a change applied (the change must have passed nextIterationOptionsProblems). */
export function applyNextIterationOptions(options: OnlineOptions, change: NextIterationOptions): OnlineOptions {
  return {
    ...options,
    ...(change.beta !== undefined ? { beta: change.beta } : {}),
    ...(change.learningRate !== undefined ? { learningRate: change.learningRate } : {}),
    ...(change.k !== undefined ? { k: change.k } : {}),
    ...(change.temperatures !== undefined ? { temperatures: [...change.temperatures] } : {}),
  };
}
