// Deterministic artifact keys of a run (design sketch "Artifact layout"). A retried or resumed step computes
// the same prefix and finds its own committed output. Prefixes carry no leading or trailing slash; each is
// committed by `<prefix>/_manifest.json` (shared/store). Pure module: importable from workflow code.
//
//   runs/<run>/config/run.json                       resolved recipe options
//   runs/<run>/data/{sft,preferences,eval-prompts}/  datasets (demo task or imported)
//   runs/<run>/data/prompt-pool/shard-0000.jsonl     the DPO prompt pool
//   runs/<run>/base/model/                           the base model (demo: initialised from scratch)
//   runs/<run>/sft/checkpoint/   runs/<run>/sft/train/step-000200/   runs/<run>/sft/eval/
//   runs/<run>/reward-model/checkpoint/   runs/<run>/reward-model/train/step-000200/
//   runs/<run>/iter-0001/prompts/shard-0000.jsonl
//   runs/<run>/iter-0001/generations/shard-0000.jsonl
//   runs/<run>/iter-0001/scores/shard-0000.jsonl
//   runs/<run>/iter-0001/pairs/pairs.jsonl
//   runs/<run>/iter-0001/train/step-000200/          resumable DPO checkpoints
//   runs/<run>/iter-0001/policy/                     the iterate, Hugging Face layout
//   runs/<run>/iter-0001/eval/eval.json
//   runs/<run>/summary/summary.json   runs/<run>/report/index.html

/** A training stage: SFT, the reward model, or DPO iteration t (1-based). */
export type Stage = 'sft' | 'reward-model' | number;

const RUN_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$/;

/** Checks a run name: 1–4 '/'-separated segments of letters, digits, '.', '_', '=', '-'. Returns it. */
export function checkRunName(run: string): string {
  const segments = run.split('/');
  if (segments.length > 4 || !segments.every((s) => RUN_SEGMENT.test(s))) {
    throw new Error(
      `invalid run name '${run}': use 1-4 '/'-separated segments of letters, digits, '.', '_', '=', '-' (each starting with a letter or digit, ≤ 128 chars)`,
    );
  }
  return run;
}

function pad(n: number, width: number, what: string): string {
  if (!Number.isInteger(n) || n < 0 || n >= 10 ** width) throw new Error(`${what} must be an integer in [0, ${10 ** width - 1}] (got ${n})`);
  return String(n).padStart(width, '0');
}

/** `iter-0001`. Iterations are 1-based. */
export function iterationName(iteration: number): string {
  if (iteration < 1) throw new Error(`iteration must be ≥ 1 (got ${iteration})`);
  return `iter-${pad(iteration, 4, 'iteration')}`;
}

/** `shard-0000.jsonl`. Shards are 0-based. */
export function shardName(shard: number): string {
  return `shard-${pad(shard, 4, 'shard')}.jsonl`;
}

/** Parses `shard-0003.jsonl` → 3; undefined for any other name. */
export function parseShardName(name: string): number | undefined {
  const m = /^shard-(\d{4})\.jsonl$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** `step-000200`. */
export function stepName(step: number): string {
  return `step-${pad(step, 6, 'step')}`;
}

/** Parses `step-000200` → 200; undefined for any other name. */
export function parseStepName(name: string): number | undefined {
  const m = /^step-(\d{6})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function runPrefix(run: string): string {
  return `runs/${checkRunName(run)}`;
}

/** Folder of a stage: `runs/<run>/sft`, `runs/<run>/reward-model`, `runs/<run>/iter-0001`. */
export function stagePrefix(run: string, stage: Stage): string {
  return `${runPrefix(run)}/${typeof stage === 'number' ? iterationName(stage) : stage}`;
}

export const FILE = {
  runConfig: 'run.json',
  sftRows: 'sft.jsonl',
  preferences: 'preferences.jsonl',
  evalPrompts: 'prompts.jsonl',
  pairs: 'pairs.jsonl',
  eval: 'eval.json',
  evalResponses: 'responses.jsonl',
  summary: 'summary.json',
} as const;

export const layout = {
  /** Resolved recipe options of the run (`run.json`). */
  config: (run: string) => `${runPrefix(run)}/config`,
  /** SFT demonstrations `{"prompt","response"}` (`sft.jsonl`). */
  sftData: (run: string) => `${runPrefix(run)}/data/sft`,
  /** RM preference pairs `{"prompt","chosen","rejected"}` (`preferences.jsonl`). */
  preferenceData: (run: string) => `${runPrefix(run)}/data/preferences`,
  /** The online-DPO prompt pool, sharded (`shard-0000.jsonl`, ...). */
  promptPool: (run: string) => `${runPrefix(run)}/data/prompt-pool`,
  /** Held-out evaluation prompts (`prompts.jsonl`). */
  evalPrompts: (run: string) => `${runPrefix(run)}/data/eval-prompts`,
  /** The base model (HF layout). */
  baseModel: (run: string) => `${runPrefix(run)}/base/model`,
  /** Final model of a training stage (HF layout): sft/checkpoint, reward-model/checkpoint, iter-0001/policy. */
  model: (run: string, stage: Stage) => `${stagePrefix(run, stage)}/${typeof stage === 'number' ? 'policy' : 'checkpoint'}`,
  /** Folder holding a stage's resumable training checkpoints. */
  trainCheckpoints: (run: string, stage: Stage) => `${stagePrefix(run, stage)}/train`,
  /** One resumable training checkpoint. */
  trainCheckpoint: (run: string, stage: Stage, step: number) => `${stagePrefix(run, stage)}/train/${stepName(step)}`,
  /** Iteration t's prompts, sharded. */
  prompts: (run: string, iteration: number) => `${stagePrefix(run, iteration)}/prompts`,
  /** One shard's generations `{"prompt","responses"}`: a prefix of its own so each shard commits alone. */
  generations: (run: string, iteration: number) => `${stagePrefix(run, iteration)}/generations`,
  scores: (run: string, iteration: number) => `${stagePrefix(run, iteration)}/scores`,
  pairs: (run: string, iteration: number) => `${stagePrefix(run, iteration)}/pairs`,
  /** Evaluation of the SFT model (stage 'sft', the baseline) or of iterate t. */
  eval: (run: string, stage: 'sft' | number) => `${stagePrefix(run, stage)}/eval`,
  summary: (run: string) => `${runPrefix(run)}/summary`,
  report: (run: string) => `${runPrefix(run)}/report`,
} as const;

/**
 * Per-shard prefix for sharded steps: `runs/<run>/iter-0001/generations/shard-0000` holds `shard-0000.jsonl`
 * and its own `_manifest.json`, so shards commit independently and a retried shard is skipped alone.
 */
export function shardPrefix(stepPrefix: string, shard: number): string {
  return `${stepPrefix}/${shardName(shard).replace(/\.jsonl$/, '')}`;
}

/** Splits `count` items into shards of at most `shardSize`: [[start, end), ...]. */
export function shardRanges(count: number, shardSize: number): Array<{ shard: number; start: number; end: number }> {
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new Error(`shard size must be an integer ≥ 1 (got ${shardSize})`);
  const out: Array<{ shard: number; start: number; end: number }> = [];
  for (let start = 0, shard = 0; start < count; start += shardSize, shard++) out.push({ shard, start, end: Math.min(count, start + shardSize) });
  return out;
}

/** `s3://bucket/key` */
export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** True for `s3://bucket/...`. */
export function isS3Uri(text: string): boolean {
  return /^s3:\/\/[^/]+\/.+/.test(text);
}
