export { customGrad, grad } from './grad';
export type { CustomRegion } from './grad';
export { RULES } from './rules';
export type { GradRule } from './rules/types';
