// Live workflow details (markdown, `setCurrentDetails`): where the run is and the per-iteration table.
import type { IterationMetrics, RunStatus } from '../shared/messages';
import type { NextIterationOptions } from '../shared/recipe';

const num = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

export function renderDetails(s: RunStatus, metrics: IterationMetrics[], pending: NextIterationOptions | null): string {
  const lines: string[] = [];
  const where = s.stage === 'online-dpo' && s.iteration > 0 ? `online-dpo · iteration ${s.iteration}/${s.iterations}${s.step ? ` · ${s.step}` : ''}` : s.stage;
  lines.push(`**${s.run}** — ${where}${s.paused ? ' — ⏸ **paused**' : ''}`);
  if (s.shards) lines.push(`\nshards (${s.shards.step}): ${s.shards.done}/${s.shards.total}`);
  if (s.stopAfterIteration !== null) lines.push(`\nwill stop after iteration ${s.stopAfterIteration}`);
  if (pending) lines.push(`\npending for next iteration: \`${JSON.stringify(pending)}\``);
  if (s.activeChild) lines.push(`\nrunning child: \`${s.activeChild}\``);
  if (metrics.length > 0) {
    lines.push('', '| iter | RM reward | win vs SFT | length | KL | gold | pairs | β | lr |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of metrics) {
      lines.push(
        `| ${m.iteration === 0 ? 'SFT' : m.iteration} | ${num(m.meanReward)} | ${num(m.winRateVsSft, 2)} | ${num(m.meanResponseLength, 1)} | ${num(m.kl)} | ${num(m.gold)} | ${m.iteration === 0 ? '–' : m.pairs} | ${num(m.beta, 3)} | ${m.learningRate === null ? '–' : m.learningRate.toExponential(1)} |`,
      );
    }
  }
  return lines.join('\n');
}
