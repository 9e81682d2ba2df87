// Bradley–Terry reward-model loss (TRL RewardTrainer): −log σ(r_c − r_r), mean over pairs.

import type { Graph, Value } from '../onnx/graph';
import { softplus } from './softplus';

/** rewards [B] for chosen and rejected responses → scalar loss = mean softplus(−(r_c − r_r)). */
export function bradleyTerryLoss(g: Graph, chosen: Value, rejected: Value): Value {
  return g.reduceMean(softplus(g, g.neg(g.sub(chosen, rejected))), [0], false);
}
