// Sample report data shaped like a finished demo run (3 iterations, SFT + offline-DPO baselines).
import type { LossCurve, RunReportData } from '../../report/types';

function curve(stage: string, steps: number, start: number, end: number): LossCurve {
  return {
    stage,
    points: Array.from({ length: steps }, (_, i) => ({
      step: i + 1,
      loss: end + (start - end) * Math.exp((-4 * i) / steps) + 0.03 * Math.sin(i * 1.7),
      lr: 1e-3,
    })),
  };
}

export function sampleRun(run = 'demo-1', shift = 0): RunReportData {
  return {
    run,
    workflowId: run,
    uiUrl: `http://127.0.0.1:8233/namespaces/default/workflows/${run}`,
    status: 'COMPLETED',
    generatedAt: '2026-11-25T12:00:00.000Z',
    task: 'sort-digits',
    options: { 'online.beta': 0.1 + shift, 'online.k': 4, 'online.reference': 'sft' },
    baselines: [
      { name: 'SFT', goldScore: 0.61, reward: -0.2, winRate: 0.5, kl: 0, length: 4.4 },
      { name: 'offline DPO', goldScore: 0.68 + shift / 2, reward: 0.1, winRate: 0.58, kl: 0.9, length: 4.5 },
    ],
    iterations: [
      { iteration: 1, goldScore: 0.7 + shift, reward: 0.3, winRate: 0.62, kl: 0.8, length: 4.5, pairs: 28, margin: 1.2, dpoLoss: 0.55 },
      { iteration: 2, goldScore: 0.77 + shift, reward: 0.6, winRate: 0.7, kl: 1.6, length: 4.5, pairs: 25, margin: 0.9, dpoLoss: 0.48 },
      { iteration: 3, goldScore: 0.8 + shift, reward: 0.75, winRate: 0.74, kl: 2.1, length: 4.6, pairs: 21, margin: 0.7, dpoLoss: 0.44 },
    ],
    lossCurves: [
      curve('sft', 64, 5.6, 0.9),
      curve('reward-model', 32, 0.69, 0.35),
      curve('iter-0001', 8, 0.69, 0.55),
      curve('iter-0002', 8, 0.69, 0.48),
      curve('iter-0003', 8, 0.69, 0.44),
      curve('offline-dpo', 24, 0.69, 0.5),
    ],
  };
}
