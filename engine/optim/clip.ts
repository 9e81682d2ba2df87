// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ (norm_type 2):
// total = ‖(‖g₁‖, ‖g₂‖, …)‖₂; if total > max, every gradient is scaled by max / (total + 1e-6).
// The trainer measures the norm and lets AdamW apply the factor as it reads each gradient (adamWStep's
// gradScale: the same float32 products clipGradNorm stores), saving a pass over every gradient.

/** Euclidean norm of all gradients together. */
export function globalGradNorm(grads: Iterable<Float32Array>): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

/** The factor clipping multiplies every gradient by: min(1, max / (total + 1e-6)); 1 when `maxNorm <= 0`. */
export function clipCoefficient(total: number, maxNorm: number): number {
  return maxNorm > 0 ? Math.min(1, maxNorm / (total + 1e-6)) : 1;
}

/** Clip in place; returns the norm before clipping. `maxNorm <= 0` only measures. */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number): number {
  const total = globalGradNorm(grads.values());
  const coef = clipCoefficient(total, maxNorm);
  if (coef < 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
  return total;
}
