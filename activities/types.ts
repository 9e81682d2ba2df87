// Inputs and outputs of every activity: S3 references and small metrics, never rows of data. Types only, so
// workflows can `import type` them.
//
// An ArtifactRef is a key prefix in the configured bucket (`runs/<run>/sft/checkpoint`) or an
// `s3://bucket/prefix` URI (a model or dataset given by the user). Every output prefix is committed
// (`<prefix>/_manifest.json`) before the activity returns.
import type { EvalMetrics } from '../shared/messages';
import type { PairOptions, PairStats } from '../shared/pairs';
import type {
  DataOptions,
  DemoModelOptions,
  Device,
  LossType,
  OverlongPromptPolicy,
  RecipeOptions,
  TrainOptions,
} from '../shared/recipe';

export type ArtifactRef = string;

/** Engine settings every engine activity takes. */
export interface EngineSettings {
  device: Device;
  threads: number;
}

// ------------------------------------------------------------------ control (rlhf-control)

export interface RecordRunConfigInput {
  run: string;
  workflowId: string;
  options: RecipeOptions;
}

export interface PrepareDataInput {
  run: string;
  seed: number;
  data: DataOptions;
  /** Prompts the pool must hold (iterations × prompts per iteration, or data.promptPool). */
  poolSize: number;
  shardSize: number;
}

export interface PreparedData {
  /** `{"prompt","response"}` rows (`sft.jsonl`). */
  sft: ArtifactRef;
  sftRows: number;
  /** `{"prompt","chosen","rejected"}` rows (`preferences.jsonl`). */
  preferences: ArtifactRef;
  preferenceRows: number;
  /** Prompt pool, `shard-NNNN.jsonl` of `{"prompt"}`. */
  promptPool: ArtifactRef;
  poolSize: number;
  /** Held-out prompts (`prompts.jsonl`). */
  evalPrompts: ArtifactRef;
  evalPromptCount: number;
  /** Demo task name when the task's gold grader applies to these prompts; null for imported prompts. */
  task: string | null;
}

export interface SelectPromptsInput {
  run: string;
  iteration: number;
  promptPool: ArtifactRef;
  count: number;
  seed: number;
  shardSize: number;
}

export interface PromptShard {
  shard: number;
  /** Global index (within the iteration) of the shard's first prompt. */
  start: number;
  count: number;
}

export interface SelectedPrompts {
  /** Committed prefix holding `shard-NNNN.jsonl`. */
  prefix: ArtifactRef;
  shards: PromptShard[];
  count: number;
}

export interface BuildPairsInput {
  run: string;
  iteration: number;
  /** Committed score shards, in shard order. */
  scores: Array<{ shard: number; start: number; prefix: ArtifactRef }>;
  k: number;
  options: PairOptions;
  seed: number;
}

export interface BuiltPairs {
  prefix: ArtifactRef;
  stats: PairStats;
}

export interface RunSummaryInput {
  run: string;
  workflowId: string;
  options: RecipeOptions;
  models: { base: ArtifactRef | null; sft: ArtifactRef; reward: ArtifactRef; final: ArtifactRef; best: ArtifactRef };
  metrics: Array<EvalMetrics & { iteration: number; policy: ArtifactRef; pairs: number }>;
  stoppedEarly: boolean;
}

// ------------------------------------------------------------------ inference (rlhf-inference)

export interface GenerateShardInput {
  run: string;
  iteration: number;
  shard: number;
  /** Global index of the shard's first prompt (seeds use global indices). */
  start: number;
  prompts: ArtifactRef;
  policy: ArtifactRef;
  k: number;
  temperatures: number[];
  topP: number;
  maxNewTokens: number;
  stopStrings: string[];
  maxPromptLength: number;
  overlongPrompt: OverlongPromptPolicy;
  seed: number;
  engine: EngineSettings;
}

export interface GeneratedShard {
  shard: number;
  start: number;
  prefix: ArtifactRef;
  prompts: number;
  /** Prompts over maxPromptLength tokens (dropped when overlongPrompt = 'drop'). */
  overlong: number;
  dropped: number;
  meanResponseLength: number;
}

export interface ScoreShardInput {
  run: string;
  iteration: number;
  shard: number;
  start: number;
  generations: ArtifactRef;
  rewardModel: ArtifactRef;
  k: number;
  engine: EngineSettings;
}

export interface ScoredShard {
  shard: number;
  start: number;
  prefix: ArtifactRef;
  rows: number;
  meanReward: number;
}

export interface EvaluateInput {
  run: string;
  /** 'sft' evaluates the baseline; t evaluates iterate t. */
  stage: 'sft' | number;
  policy: ArtifactRef;
  /** π_ref for the KL estimate (the SFT model or the previous iterate). */
  reference: ArtifactRef;
  rewardModel: ArtifactRef;
  evalPrompts: ArtifactRef;
  /** Committed baseline evaluation (stage 'sft'), for the win rate; null when evaluating the baseline. */
  sftEval: ArtifactRef | null;
  count: number;
  temperature: number;
  maxNewTokens: number;
  stopStrings: string[];
  /** Demo task whose gold grader scores the responses, or null. */
  task: string | null;
  seed: number;
  engine: EngineSettings;
}

export interface Evaluation extends EvalMetrics {
  prefix: ArtifactRef;
}

// ------------------------------------------------------------------ train (rlhf-train)

export interface InitBaseModelInput {
  run: string;
  seed: number;
  demo: DemoModelOptions;
}

export interface CheckpointSettings {
  everySteps: number;
  everySeconds: number;
}

export interface TrainSftInput {
  run: string;
  baseModel: ArtifactRef;
  data: ArtifactRef;
  hyper: TrainOptions;
  seed: number;
  checkpoint: CheckpointSettings;
  engine: EngineSettings;
}

export interface TrainRewardModelInput {
  run: string;
  /** Model whose weights initialise the RM's decoder (the SFT policy, as in the paper's recipe). */
  initFrom: ArtifactRef;
  demo: DemoModelOptions;
  data: ArtifactRef;
  hyper: TrainOptions;
  seed: number;
  checkpoint: CheckpointSettings;
  engine: EngineSettings;
}

export interface TrainDpoInput {
  run: string;
  iteration: number;
  policy: ArtifactRef;
  reference: ArtifactRef;
  pairs: ArtifactRef;
  hyper: TrainOptions & { beta: number; labelSmoothing: number; rpoAlpha: number; lossType: LossType };
  seed: number;
  checkpoint: CheckpointSettings;
  engine: EngineSettings;
}

export interface TrainedModel {
  /** Committed HF-layout folder. */
  model: ArtifactRef;
  steps: number;
  resumedFromStep: number;
  finalLoss: number;
  metrics: Record<string, number>;
}

// ------------------------------------------------------------------ activity sets, one per task queue

export interface ControlActivities {
  recordRunConfig(input: RecordRunConfigInput): Promise<ArtifactRef>;
  prepareData(input: PrepareDataInput): Promise<PreparedData>;
  selectPrompts(input: SelectPromptsInput): Promise<SelectedPrompts>;
  buildPairs(input: BuildPairsInput): Promise<BuiltPairs>;
  writeRunSummary(input: RunSummaryInput): Promise<ArtifactRef>;
}

export interface InferenceActivities {
  generateShard(input: GenerateShardInput): Promise<GeneratedShard>;
  scoreShard(input: ScoreShardInput): Promise<ScoredShard>;
  evaluateModel(input: EvaluateInput): Promise<Evaluation>;
}

export interface TrainActivities {
  initBaseModel(input: InitBaseModelInput): Promise<ArtifactRef>;
  trainSft(input: TrainSftInput): Promise<TrainedModel>;
  trainRewardModel(input: TrainRewardModelInput): Promise<TrainedModel>;
  trainDpo(input: TrainDpoInput): Promise<TrainedModel>;
}

export interface RlhfActivities {
  control: ControlActivities;
  inference: InferenceActivities;
  train: TrainActivities;
}
