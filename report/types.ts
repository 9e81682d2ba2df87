// The data a report is rendered from: small, JSON-serializable, assembled from the run summary in S3
// (runs/<run>/summary/summary.json) or the workflow's `metrics` query. report/from-summary.ts maps the
// pipeline's own types onto this one.

/** Evaluation of one policy on the held-out prompts (recipe.md "Evaluation"). null: not measured. */
export interface PolicyMetrics {
  /** Mean gold score in [0, 1] (tasks with a known ground truth). */
  goldScore: number | null;
  /** Mean reward-model reward. */
  reward: number | null;
  /** Win rate vs the SFT model, judged by the RM (ties count half). */
  winRate: number | null;
  /** Estimate of KL(π‖π_ref) from sampled log-probs. */
  kl: number | null;
  /** Mean response length (characters). */
  length: number | null;
}

/** One online iteration t = 1..T: the iterate's evaluation plus facts about its training data. */
export interface IterationMetrics extends PolicyMetrics {
  iteration: number;
  /** Preference pairs kept for DPO. */
  pairs?: number | null;
  /** Mean reward margin r_chosen − r_rejected of the pairs. */
  margin?: number | null;
  /** Final DPO loss of the iteration. */
  dpoLoss?: number | null;
}

/** A reference policy evaluated on the same prompts: the SFT model, offline DPO on the same budget. */
export interface BaselineMetrics extends PolicyMetrics {
  name: string;
}

export interface LossPoint {
  step: number;
  loss: number;
  lr?: number;
}

/** The loss curve of one training stage ('sft', 'reward-model', 'iter-0001', 'offline-dpo', ...). */
export interface LossCurve {
  stage: string;
  points: LossPoint[];
}

export interface RunReportData {
  /** Run name (the S3 prefix runs/<run>/). */
  run: string;
  workflowId?: string;
  /** Temporal Web UI address of the workflow. */
  uiUrl?: string;
  /** RUNNING, COMPLETED, FAILED, ... */
  status?: string;
  /** ISO timestamp of when the data was collected. */
  generatedAt?: string;
  /** Task name (e.g. sort-digits). */
  task?: string;
  /** Options worth showing (flattened "online.beta" → 0.1), e.g. the sweep point or the resolved recipe. */
  options?: Record<string, string | number | boolean | null>;
  /** Iterations 1..T in order. */
  iterations: IterationMetrics[];
  /** SFT first, then offline DPO when run. */
  baselines: BaselineMetrics[];
  lossCurves: LossCurve[];
}

/** One run of a sweep: its grid point (e.g. {"online.beta": 0.1}) and its data. */
export interface SweepRun {
  workflowId: string;
  point: Record<string, string | number | boolean>;
  data: RunReportData;
}

export interface SweepReportData {
  sweepId: string;
  generatedAt?: string;
  runs: SweepRun[];
}
