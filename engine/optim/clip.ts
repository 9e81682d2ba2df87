// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ (norm_type 2):
// total = ‖(‖g₁‖, ‖g₂‖, …)‖₂; if total > max, every gradient is scaled by max / (total + 1e-6).

/** Euclidean norm of all gradients together. */
export function globalGradNorm(grads: Iterable<Float32Array>): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

/** Clip in place; returns the norm before clipping. `maxNorm <= 0` only measures. */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number): number {
  const total = globalGradNorm(grads.values());
  if (maxNorm > 0) {
    const coef = Math.min(1, maxNorm / (total + 1e-6));
    if (coef < 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
  }
  return total;
}
