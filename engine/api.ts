// The engine's public contract: what activities (and the bench, and tests) may call.
// The engine is a plain library: no Temporal, no S3. It reads and writes Hugging Face layout folders on
// local disk; activities move those folders to and from S3.
//
// Implemented by engine/index.ts. Keep this file types-only so that anyone can code against it.

export type Device = 'cpu' | 'cuda' | 'webgpu';

/** A chat turn, as in Hugging Face chat templates. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

/** A prompt: plain text, or chat messages (rendered with the tokenizer's chat template). */
export type Prompt = string | ChatMessage[];

/** Called on long work; `done`/`total` in the unit of the call (prompts, items, steps). */
export type ProgressFn = (p: { done: number; total: number; detail?: Record<string, number | string> }) => void;

export interface RunControl {
  /** Aborting rejects the call with an AbortError-like error (name === 'AbortError') within a bounded time. */
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

export interface EngineOptions {
  device?: Device; // default 'cpu'
  /** ORT intra-op threads; fixed for reproducibility (default 1). */
  threads?: number;
}

/** Architecture and size of a model to create from scratch (tiny models for tests and the demo). */
export interface InitModelOptions {
  dir: string; // output HF-layout folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)
  architecture: 'LlamaForCausalLM' | 'LlamaForSequenceClassification';
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  max_position_embeddings: number;
  rope_theta?: number;
  tie_word_embeddings?: boolean;
  /** 'byte': the engine's byte-level tokenizer (256 bytes + specials). */
  tokenizer: 'byte';
  seed: number;
  /** Initialise from another model's weights where names and shapes match (e.g. an RM from the SFT policy). */
  initFrom?: string;
}

export interface GenerateOptions extends RunControl {
  /** K responses per prompt. */
  n: number;
  /** Temperatures, split evenly over the n samples (sample j uses temperatures[floor(j * len / n)]). */
  temperatures: number[];
  topK?: number; // 0 or undefined: off
  topP?: number; // 1 or undefined: off
  maxNewTokens: number;
  stopStrings?: string[];
  /** Default: the tokenizer's eos ids. */
  stopTokenIds?: number[];
  /** Sampling is seeded per (seed, promptIds[i], sample index): the same triple gives the same response. */
  seed: string;
  /** Stable ids of the prompts (e.g. global prompt index) used for seeding. Default: their positions. */
  promptIds?: (string | number)[];
  batchSize?: number;
}

export interface Generation {
  /** n response strings (stop strings/tokens removed). */
  responses: string[];
  /** Summed log-prob of each response under the sampling policy (temperature 1, no truncation). */
  logprobs: number[];
  /** Number of generated tokens per response. */
  tokenCounts: number[];
  /** Per-token log-probs (temperature-1 policy) of each response. */
  tokenLogprobs?: number[][];
}

export interface ScoreItem {
  prompt: Prompt;
  response: string;
}

export interface PolicyModel {
  readonly dir: string;
  readonly maxLength: number;
  generate(prompts: Prompt[], opts: GenerateOptions): Promise<Generation[]>;
  /** Summed log-prob of each response given its prompt (response tokens only). */
  logProbs(items: ScoreItem[], opts?: RunControl & { batchSize?: number }): Promise<number[]>;
  /** Number of tokens of the rendered prompt (for max_prompt_length checks). */
  promptLength(prompt: Prompt): number;
  release(): Promise<void>;
}

export interface RewardModel {
  readonly dir: string;
  /** Scalar reward at the last non-pad token of prompt+response (HF LlamaForSequenceClassification). */
  score(items: ScoreItem[], opts?: RunControl & { batchSize?: number }): Promise<number[]>;
  release(): Promise<void>;
}

export type Schedule = 'cosine' | 'linear' | 'constant';

export interface TrainHyper {
  learningRate: number;
  epochs: number;
  batchSize: number; // per optimizer step, before accumulation
  gradientAccumulation: number;
  warmupRatio: number;
  schedule: Schedule;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  maxGradNorm: number; // 0: off
  maxLength: number;
  maxPromptLength: number;
  seed: string; // data order and any sampling
}

export interface DpoHyper extends TrainHyper {
  beta: number;
  labelSmoothing: number;
  rpoAlpha: number; // 0: off
  lossType: 'sigmoid' | 'ipo';
}

export interface SftRow {
  prompt: Prompt;
  response: string;
}
export interface PairRow {
  prompt: Prompt;
  chosen: string;
  rejected: string;
}

export interface CheckpointPolicy {
  /** Local folder where resumable checkpoints are written (step-XXXXXX subfolders). */
  dir: string;
  everySteps?: number;
  everySeconds?: number;
  /** Called after a checkpoint folder is complete on disk (the activity uploads it, then heartbeats). */
  onCheckpoint?: (c: { step: number; path: string }) => Promise<void>;
  /** Resume from this checkpoint folder (from a previous attempt). */
  resumeFrom?: string;
  /**
   * On abort, save a checkpoint of the last completed step (also off the everySteps grid) and await
   * onCheckpoint before rejecting (default true): a retry then redoes at most the interrupted step. The call
   * rejects once that save and onCheckpoint are done, not at once.
   */
  onAbort?: boolean;
}

export interface TrainResult {
  steps: number;
  /** Steps actually executed by this call (steps − resumed step). */
  stepsRun: number;
  resumedFromStep: number;
  finalLoss: number;
  lossCurve: { step: number; loss: number; lr: number }[];
  /** Extra metrics, e.g. DPO reward margin / accuracy, RM accuracy. */
  metrics: Record<string, number>;
}

export interface TrainCommon extends RunControl {
  outDir: string; // final HF-layout folder
  checkpoint: CheckpointPolicy;
  engine?: EngineOptions;
}

export interface Engine {
  initModel(opts: InitModelOptions): Promise<void>;
  loadPolicy(dir: string, opts?: EngineOptions): Promise<PolicyModel>;
  loadRewardModel(dir: string, opts?: EngineOptions): Promise<RewardModel>;
  trainSft(opts: TrainCommon & { modelDir: string; rows: SftRow[]; hyper: TrainHyper }): Promise<TrainResult>;
  trainRewardModel(opts: TrainCommon & { modelDir: string; rows: PairRow[]; hyper: TrainHyper }): Promise<TrainResult>;
  trainDpo(
    opts: TrainCommon & { modelDir: string; referenceDir: string; rows: PairRow[]; hyper: DpoHyper },
  ): Promise<TrainResult>;
}

/** Errors the engine throws for bad input carry this name so activities can fail non-retryably. */
export const ENGINE_INPUT_ERROR = 'EngineInputError';
