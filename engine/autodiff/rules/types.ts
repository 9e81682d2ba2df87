import type { Graph, Node, Value } from '../../onnx/graph';

/**
 * A backward rule: given the node and the gradients of its outputs (null: no gradient flows there), returns
 * the gradient of each input (null where `needs[i]` is false or no gradient exists).
 */
export type GradRule = (g: Graph, node: Node, dOut: (Value | null)[], needs: boolean[]) => (Value | null)[];
