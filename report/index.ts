export { renderRunReport } from './run-report';
export { renderSweepReport } from './sweep-report';
export type { BaselineMetrics, IterationMetrics, LossCurve, LossPoint, PolicyMetrics, RunReportData, SweepReportData, SweepRun } from './types';
