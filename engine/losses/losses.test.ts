import { describe, expect, it } from 'vitest';
import { checkGradients } from '../autodiff/fd';
import { Graph } from '../onnx/graph';
import { createSession, tensor, toNumbers } from '../onnx/session';
import { bradleyTerryLoss, dpoLoss, sequenceLogProbs, sftLoss, softplus, tokenLogProbs } from './index';

const TOL = 1e-3;

async function evalGraph(g: Graph, feeds: Record<string, ReturnType<typeof tensor>>): Promise<Record<string, number[]>> {
  const s = await createSession(g.toBytes(), { optimization: 'basic' });
  const r = await s.run(feeds);
  await s.release();
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, toNumbers(v)]));
}

const logSoftmaxJs = (z: number[]): number[] => {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
};

describe('softplus', () => {
  it('is stable and matches log(1+eˣ)', async () => {
    const xs = [-800, -30, -1, 0, 0.5, 30, 800];
    const g = new Graph('float64');
    const x = g.input('x', 'float64', [xs.length]);
    g.output('y', softplus(g, x));
    const { y } = await evalGraph(g, { x: tensor('float64', xs, [xs.length]) });
    xs.forEach((v, i) => expect(y![i]).toBeCloseTo(v > 30 ? v : Math.log1p(Math.exp(v)), 10));
  });
  it('gradient vs FD', async () => {
    const r = await checkGradients([{ name: 'x', shape: [8] }], (g, [x]) => softplus(g, x!), { range: [-4, 4] });
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
});

const targets = [2, 0, 3, 1, 1, 4];
const mask = [0, 1, 1, 1, 0, 1];

describe('token log-probs and SFT loss', () => {
  it('tokenLogProbs values and fused gradient vs FD', async () => {
    const r = await checkGradients(
      [
        { name: 'z', shape: [2, 3, 5] },
        { name: 't', shape: [2, 3], dtype: 'int64', data: targets },
      ],
      (g, [z, t]) => tokenLogProbs(g, z!, t!),
      { range: [-3, 3] },
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
    const zs = Array.from({ length: 30 }, (_, i) => Math.sin(i * 1.7) * 2);
    const g = new Graph('float64');
    g.output('lp', tokenLogProbs(g, g.input('z', 'float64', [2, 3, 5]), g.input('t', 'int64', [2, 3])));
    const { lp } = await evalGraph(g, { z: tensor('float64', zs, [2, 3, 5]), t: tensor('int64', targets, [2, 3]) });
    for (let i = 0; i < 6; i++) expect(lp![i]).toBeCloseTo(logSoftmaxJs(zs.slice(i * 5, i * 5 + 5))[targets[i]!]!, 12);
  });

  it('sftLoss = mean NLL over masked tokens; gradient vs FD', async () => {
    const zs = Array.from({ length: 30 }, (_, i) => Math.cos(i * 0.9) * 2);
    const g = new Graph('float64');
    const { loss, tokens } = sftLoss(g, g.input('z', 'float64', [2, 3, 5]), g.input('t', 'int64', [2, 3]), g.input('m', 'float64', [2, 3]));
    g.output('loss', loss);
    g.output('tokens', tokens);
    const got = await evalGraph(g, { z: tensor('float64', zs, [2, 3, 5]), t: tensor('int64', targets, [2, 3]), m: tensor('float64', mask, [2, 3]) });
    let nll = 0;
    for (let i = 0; i < 6; i++) if (mask[i]) nll -= logSoftmaxJs(zs.slice(i * 5, i * 5 + 5))[targets[i]!]!;
    expect(got['tokens']![0]).toBe(4);
    expect(got['loss']![0]).toBeCloseTo(nll / 4, 12);
    const r = await checkGradients(
      [
        { name: 'z', shape: [2, 3, 5] },
        { name: 't', shape: [2, 3], dtype: 'int64', data: targets },
        { name: 'm', shape: [2, 3], data: mask, constant: true },
      ],
      (gg, [z, t, m]) => gg.unsqueeze(sftLoss(gg, z!, t!, m!).loss, [0]),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });

  it('sequenceLogProbs gradient vs FD', async () => {
    const r = await checkGradients(
      [
        { name: 'z', shape: [2, 3, 5] },
        { name: 't', shape: [2, 3], dtype: 'int64', data: targets },
        { name: 'm', shape: [2, 3], data: mask, constant: true },
      ],
      (g, [z, t, m]) => sequenceLogProbs(g, z!, t!, m!),
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
  });
});

describe('preference losses', () => {
  const pc = [-3.1, -2.0, -5.5];
  const pr = [-3.4, -1.5, -6.0];
  const rc = [-3.0, -2.2, -5.0];
  const rr = [-3.2, -1.9, -6.3];
  const sp = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  const inputs = [
    { name: 'pc', shape: [3], data: pc },
    { name: 'pr', shape: [3], data: pr },
    { name: 'rc', shape: [3], data: rc, constant: true },
    { name: 'rr', shape: [3], data: rr, constant: true },
    { name: 'nll', shape: [], data: [1.7] },
  ];
  const cases = [
    { beta: 0.1, labelSmoothing: 0, lossType: 'sigmoid' as const, rpoAlpha: 0 },
    { beta: 0.5, labelSmoothing: 0.2, lossType: 'sigmoid' as const, rpoAlpha: 0 },
    { beta: 0.1, labelSmoothing: 0, lossType: 'sigmoid' as const, rpoAlpha: 1 },
    { beta: 0.3, labelSmoothing: 0, lossType: 'ipo' as const, rpoAlpha: 0 },
  ];
  for (const p of cases) {
    it(`DPO ${JSON.stringify(p)}: value and gradient vs FD`, async () => {
      const build = (g: Graph, [a, b, c, d, n]: ReturnType<Graph['input']>[]) =>
        dpoLoss(g, { policyChosen: a!, policyRejected: b!, refChosen: c!, refRejected: d!, chosenNll: n! }, p);
      const r = await checkGradients(inputs, (g, xs) => g.unsqueeze(build(g, xs).loss, [0]));
      expect(r.maxRelErr).toBeLessThan(TOL);
      const g = new Graph('float64');
      const xs = inputs.map((i) => g.input(i.name, 'float64', i.shape));
      const out = build(g, xs);
      g.output('loss', out.loss);
      g.output('cr', out.chosenRewards);
      const got = await evalGraph(g, Object.fromEntries(inputs.map((i) => [i.name, tensor('float64', i.data, i.shape)])));
      let want = 0;
      for (let i = 0; i < 3; i++) {
        const l = pc[i]! - pr[i]! - (rc[i]! - rr[i]!);
        want +=
          p.lossType === 'ipo'
            ? (l - 1 / (2 * p.beta)) ** 2
            : (1 - p.labelSmoothing) * sp(-p.beta * l) + p.labelSmoothing * sp(p.beta * l);
      }
      want = want / 3 + p.rpoAlpha * 1.7;
      expect(got['loss']![0]).toBeCloseTo(want, 12);
      expect(got['cr']![1]).toBeCloseTo(p.beta * (pc[1]! - rc[1]!), 12);
    });
  }

  it('Bradley–Terry: value and gradient vs FD', async () => {
    const r = await checkGradients(
      [
        { name: 'c', shape: [4] },
        { name: 'r', shape: [4] },
      ],
      (g, [c, rj]) => g.unsqueeze(bradleyTerryLoss(g, c!, rj!), [0]),
      { range: [-3, 3] },
    );
    expect(r.maxRelErr).toBeLessThan(TOL);
    const g = new Graph('float64');
    g.output('l', bradleyTerryLoss(g, g.input('c', 'float64', [2]), g.input('r', 'float64', [2])));
    const got = await evalGraph(g, { c: tensor('float64', [1, -2], [2]), r: tensor('float64', [0.5, 3], [2]) });
    expect(got['l']![0]).toBeCloseTo((sp(-0.5) + sp(5)) / 2, 12);
  });
});
