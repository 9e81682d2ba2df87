// What the training loop needs from a training graph: for one micro-batch, the loss and its gradient with
// respect to every trainable weight. Implementations (sft.ts, reward.ts, dpo.ts) run the graphs of
// engine/model through an onnxruntime session; tests may implement it in plain JS.

import type { Weights } from '../hf/checkpoint';

export interface MicroBatchResult {
  /** The loss of the micro-batch, averaged over its `units` (response tokens for SFT, pairs otherwise). */
  loss: number;
  /**
   * d loss / d weight for every trainable weight (HF names), the same lengths as the weights. Valid until the
   * objective's next run (implementations may reuse the buffers).
   */
  grads: Map<string, Float32Array>;
  /** Σ g² over every gradient (the squared global norm), when the graph computes it. */
  gradSquaredNorm?: number;
  /** Per-batch sums of extra statistics (e.g. DPO reward accuracy over pairs), summed over `units`. */
  sums?: Record<string, number>;
}

export interface Objective<I> {
  /** Averaging units of these items: response tokens (SFT) or pairs (reward model, DPO). */
  units(items: I[]): number;
  /** Forward + backward on one micro-batch with the current weights (read, never modified). */
  run(weights: Weights, items: I[]): Promise<MicroBatchResult>;
  release(): Promise<void>;
}
