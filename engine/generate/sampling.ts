// Choosing the next token from one row of logits, as Hugging Face `generate` does: temperature, then top-k,
// then top-p (nucleus) on the tempered distribution; greedy (argmax, lowest id on ties) at temperature 0.
// The only randomness is one uniform u ∈ [0, 1) per sampled token, drawn by the caller from the row's
// counter-based stream, so a response depends only on (seed, prompt id, sample index), never on the batch.

export interface SamplingParams {
  /** 0: greedy. */
  temperature: number;
  /** 0: off. */
  topK: number;
  /** 1: off. */
  topP: number;
}

/** log Σ exp(logits[off .. off+V)) — the temperature-1 normaliser: log p(t) = logits[t] − logSumExp. */
export function logSumExp(logits: Float32Array, off: number, V: number): number {
  let m = -Infinity;
  for (let i = 0; i < V; i++) if (logits[off + i]! > m) m = logits[off + i]!;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(logits[off + i]! - m);
  return m + Math.log(s);
}

/** Index of the largest logit (the lowest index among ties), as torch.argmax. */
export function argmax(logits: Float32Array, off: number, V: number): number {
  let best = 0;
  let bv = logits[off]!;
  for (let i = 1; i < V; i++) {
    const v = logits[off + i]!;
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/**
 * The tokens top-k/top-p keep and their unnormalised weights exp((z − max)/T), in a deterministic order:
 * token-id order when nothing is truncated, descending probability (ties by id) otherwise.
 */
export function keptDistribution(
  logits: Float32Array,
  off: number,
  V: number,
  p: SamplingParams,
): { ids: Int32Array; weights: Float64Array } {
  const invT = 1 / p.temperature;
  let m = -Infinity;
  for (let i = 0; i < V; i++) if (logits[off + i]! > m) m = logits[off + i]!;
  const w = new Float64Array(V);
  let total = 0;
  for (let i = 0; i < V; i++) {
    const e = Math.exp((logits[off + i]! - m) * invT);
    w[i] = e;
    total += e;
  }
  const useK = p.topK > 0 && p.topK < V;
  const useP = p.topP > 0 && p.topP < 1;
  if (!useK && !useP) return { ids: Int32Array.from({ length: V }, (_, i) => i), weights: w };

  // Candidates: every token whose weight is at least `cut`. Lower `cut` until the candidates hold enough
  // mass for top-p (and at least k tokens for top-k). Every token outside the set weighs less than every
  // token inside it, so sorting only the candidates gives the same kept set as sorting all V tokens.
  let cut = 1e-4; // relative to the max weight, which is 1
  let cand: number[] = [];
  for (;;) {
    cand = [];
    let mass = 0;
    for (let i = 0; i < V; i++) {
      if (w[i]! >= cut) {
        cand.push(i);
        mass += w[i]!;
      }
    }
    const enoughK = !useK || cand.length >= p.topK;
    const enoughP = !useP || mass >= p.topP * total;
    if ((enoughK && enoughP) || cut === 0) break;
    cut = cut < 1e-300 ? 0 : cut * 1e-6;
  }
  cand.sort((a, b) => w[b]! - w[a]! || a - b);
  let keep = cand.length;
  if (useK) keep = Math.min(keep, p.topK);
  if (useP) {
    // Top-p on the top-k-filtered distribution (HF applies the warpers in this order): keep token i when the
    // mass of the tokens before it is below top_p; the first token is always kept.
    let kMass = 0;
    for (let r = 0; r < keep; r++) kMass += w[cand[r]!]!;
    let before = 0;
    let r = 0;
    for (; r < keep; r++) {
      if (r > 0 && before >= p.topP * kMass) break;
      before += w[cand[r]!]!;
    }
    keep = r;
  }
  const ids = new Int32Array(keep);
  const weights = new Float64Array(keep);
  for (let r = 0; r < keep; r++) {
    ids[r] = cand[r]!;
    weights[r] = w[cand[r]!]!;
  }
  return { ids, weights };
}

/** The next token of one row. `u` is a uniform draw in [0, 1) (unused when greedy). */
export function chooseToken(logits: Float32Array, off: number, V: number, p: SamplingParams, u: number): number {
  if (p.temperature <= 0) return argmax(logits, off, V);
  const truncated = (p.topK > 0 && p.topK < V) || (p.topP > 0 && p.topP < 1);
  if (!truncated) return sampleFull(logits, off, V, p.temperature, u);
  const { ids, weights } = keptDistribution(logits, off, V, p);
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i]!;
  let target = u * total;
  for (let i = 0; i < ids.length; i++) {
    target -= weights[i]!;
    if (target < 0) return ids[i]!;
  }
  // Rounding left a sliver: the last token with positive weight.
  for (let i = ids.length - 1; i >= 0; i--) if (weights[i]! > 0) return ids[i]!;
  return ids[0]!;
}

/** Inverse-CDF sampling over the whole tempered distribution in token-id order, without allocating. */
function sampleFull(logits: Float32Array, off: number, V: number, temperature: number, u: number): number {
  const invT = 1 / temperature;
  let m = -Infinity;
  for (let i = 0; i < V; i++) if (logits[off + i]! > m) m = logits[off + i]!;
  let total = 0;
  for (let i = 0; i < V; i++) total += Math.exp((logits[off + i]! - m) * invT);
  let target = u * total;
  let lastPositive = 0;
  for (let i = 0; i < V; i++) {
    const w = Math.exp((logits[off + i]! - m) * invT);
    if (w > 0) lastPositive = i;
    target -= w;
    if (target < 0) return i;
  }
  return lastPositive;
}
