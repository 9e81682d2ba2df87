import { existsSync, mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DpoHyper, PairRow, SftRow, TrainHyper } from '../api';
import { initRandomModel, loadHfModel } from '../hf/checkpoint';
import { rngFor } from '../rng';
import { loadTokenizer } from '../tokenizer/tokenizer';
import { tokenizePairRows } from './data';
import { trainDpo, trainRewardModel, trainSft } from './index';
import { dpoObjective, rewardObjective, sequenceLogps } from './objectives';

const tmp = mkdtempSync(join(tmpdir(), 'e2-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const tiny = {
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
  tokenizer: 'byte' as const,
};

function hyper(over: Partial<TrainHyper> = {}): TrainHyper {
  return {
    learningRate: 5e-3,
    epochs: 1,
    batchSize: 4,
    gradientAccumulation: 1,
    warmupRatio: 0.1,
    schedule: 'cosine',
    weightDecay: 0.0,
    adamBeta1: 0.9,
    adamBeta2: 0.999,
    adamEps: 1e-8,
    maxGradNorm: 1.0,
    maxLength: 64,
    maxPromptLength: 32,
    seed: 'test',
    ...over,
  };
}

const policyDir = join(tmp, 'policy');
initRandomModel({ ...tiny, dir: policyDir, architecture: 'LlamaForCausalLM', seed: 1 });

const words = ['red', 'green', 'blue', 'cyan', 'pink', 'gold', 'gray', 'teal'];
const sftRows: SftRow[] = words.map((w, i) => ({
  prompt: i % 2 ? [{ role: 'user', content: `color ${i}?` }] : `color ${i}:`,
  response: ` ${w} ${w}`,
}));

function weightsBytes(dir: string): Buffer {
  return readFileSync(join(dir, 'model.safetensors'));
}

describe('trainSft', () => {
  it('lowers the SFT loss below half of its initial value (seeded, CPU)', async () => {
    const progress: number[] = [];
    const r = await trainSft({
      modelDir: policyDir,
      rows: sftRows,
      hyper: hyper({ epochs: 15, gradientAccumulation: 2, learningRate: 1e-2 }),
      outDir: join(tmp, 'sft-out'),
      checkpoint: { dir: join(tmp, 'sft-ck') },
      onProgress: (p) => progress.push(p.done),
    });
    const first = r.lossCurve[0]!.loss;
    expect(r.steps).toBe(15); // 8 rows / (4 × 2) per step × 15 epochs
    expect(r.lossCurve[0]!.lr).toBe(0); // HF warm-up starts at 0
    expect(r.finalLoss).toBeLessThan(0.5 * first);
    expect(progress).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(r.metrics['rows_kept']).toBe(8);
    const out = loadHfModel(join(tmp, 'sft-out'));
    expect(out.config.architecture).toBe('LlamaForCausalLM');
    expect(existsSync(join(tmp, 'sft-out', 'tokenizer.json'))).toBe(true);
  });

  it('resumes bit for bit: N steps straight == k steps + checkpoint + load + N − k steps', async () => {
    const h = hyper({ epochs: 3, batchSize: 2, gradientAccumulation: 2, learningRate: 3e-3, weightDecay: 0.01 });
    const straight = await trainSft({
      modelDir: policyDir,
      rows: sftRows,
      hyper: h,
      outDir: join(tmp, 'straight'),
      checkpoint: { dir: join(tmp, 'straight-ck') },
    });
    expect(straight.steps).toBe(6);
    // A run aborted after step 4 with a checkpoint every 2 steps (written atomically, reported by onCheckpoint).
    const ac = new AbortController();
    const seen: number[] = [];
    await expect(
      trainSft({
        modelDir: policyDir,
        rows: sftRows,
        hyper: h,
        outDir: join(tmp, 'aborted'),
        checkpoint: { dir: join(tmp, 'resume-ck'), everySteps: 2, onCheckpoint: async ({ step }) => void seen.push(step) },
        signal: ac.signal,
        onProgress: (p) => {
          if (p.done === 4) ac.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([2, 4]);
    expect(readdirSync(join(tmp, 'resume-ck')).sort()).toEqual(['step-000002', 'step-000004']);
    const resumed = await trainSft({
      modelDir: policyDir,
      rows: sftRows,
      hyper: h,
      outDir: join(tmp, 'resumed'),
      checkpoint: { dir: join(tmp, 'resume-ck2'), resumeFrom: join(tmp, 'resume-ck', 'step-000004') },
    });
    expect(resumed.resumedFromStep).toBe(4);
    expect(resumed.stepsRun).toBe(2);
    expect(resumed.lossCurve).toEqual(straight.lossCurve);
    expect(weightsBytes(join(tmp, 'resumed')).equals(weightsBytes(join(tmp, 'straight')))).toBe(true);
    // Other hyper-parameters: the checkpoint is refused, naming it.
    await expect(
      trainSft({
        modelDir: policyDir,
        rows: sftRows,
        hyper: { ...h, learningRate: 1e-3 },
        outDir: join(tmp, 'x'),
        checkpoint: { dir: join(tmp, 'x-ck'), resumeFrom: join(tmp, 'resume-ck', 'step-000004') },
      }),
    ).rejects.toThrow(/resume-ck\/step-000004 was written for other data/);
  });
  it('gradient accumulation weights micro-batches by tokens: batch 4 × 1 == batch 2 × 2 == batch 1 × 4', async () => {
    const run = (batchSize: number, gradientAccumulation: number, out: string) =>
      trainSft({
        modelDir: policyDir,
        rows: sftRows,
        hyper: hyper({ epochs: 2, batchSize, gradientAccumulation }),
        outDir: join(tmp, out),
        checkpoint: { dir: join(tmp, `${out}-ck`) },
      });
    const a = await run(4, 1, 'ga-a');
    const b = await run(2, 2, 'ga-b');
    const c = await run(1, 4, 'ga-c');
    expect(a.steps).toBe(4);
    for (const other of [b, c]) {
      expect(other.steps).toBe(4);
      other.lossCurve.forEach((p, i) => expect(Math.abs(p.loss - a.lossCurve[i]!.loss)).toBeLessThan(1e-5 * a.lossCurve[i]!.loss));
    }
    const wa = loadHfModel(join(tmp, 'ga-a')).weights;
    for (const out of ['ga-b', 'ga-c']) {
      for (const [name, t] of loadHfModel(join(tmp, out)).weights) {
        const ref = wa.get(name)!.data;
        let worst = 0;
        for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i]! - t.data[i]!));
        expect(worst, name).toBeLessThan(1e-5);
      }
    }
  });

  it('checkpoints every M seconds (everySeconds)', async () => {
    const seen: number[] = [];
    const sleep = new Int32Array(new SharedArrayBuffer(4));
    await trainSft({
      modelDir: policyDir,
      rows: sftRows.slice(0, 4),
      hyper: hyper({ epochs: 3, batchSize: 2 }),
      outDir: join(tmp, 'timed'),
      checkpoint: { dir: join(tmp, 'timed-ck'), everySeconds: 0.002, onCheckpoint: async ({ step }) => void seen.push(step) },
      onProgress: () => void Atomics.wait(sleep, 0, 0, 5), // each step takes ≥ 5 ms
    });
    expect(seen).toEqual([1, 2, 3, 4, 5]); // not after the final step: the final model is the output
  });
});

describe('trainRewardModel', () => {
  it('a Bradley–Terry model reaches > 90% accuracy on held-out synthetic pairs', async () => {
    const rng = rngFor('bt-data');
    const pick = (alphabet: string, n: number): string => Array.from({ length: n }, () => alphabet[rng.int(alphabet.length)]).join('');
    const pairs = (count: number): PairRow[] =>
      Array.from({ length: count }, (_, i) => ({
        prompt: `q${i % 5}`,
        chosen: pick('aeiou', 3 + rng.int(4)), // vowels are preferred
        rejected: pick('bcdfgkmnpt', 3 + rng.int(4)),
      }));
    const train = pairs(48);
    const heldOut = pairs(40);
    const rmDir = join(tmp, 'rm');
    initRandomModel({ ...tiny, dir: rmDir, architecture: 'LlamaForSequenceClassification', seed: 2 });
    const r = await trainRewardModel({
      modelDir: rmDir,
      rows: train,
      hyper: hyper({ epochs: 4, batchSize: 8, learningRate: 5e-3 }),
      outDir: join(tmp, 'rm-out'),
      checkpoint: { dir: join(tmp, 'rm-ck') },
    });
    expect(r.steps).toBe(24);
    const rm = loadHfModel(join(tmp, 'rm-out'));
    const { examples } = tokenizePairRows(loadTokenizer(join(tmp, 'rm-out')), heldOut, { maxLength: 64, maxPromptLength: 32 }, 'reward');
    const obj = rewardObjective(rm.config);
    const out = await obj.run(rm.weights, examples);
    await obj.release();
    const accuracy = out.sums!['accuracy']! / examples.length;
    expect(accuracy).toBeGreaterThan(0.9);
  });

  it('refuses a reward model whose pad id equals eos, naming config.json', async () => {
    await expect(
      trainRewardModel({ modelDir: policyDir, rows: [], hyper: hyper(), outDir: join(tmp, 'bad'), checkpoint: { dir: join(tmp, 'bad-ck') } }),
    ).rejects.toThrow(/policy\/config\.json: trainRewardModel needs a LlamaForSequenceClassification/);
  });
});

describe('trainDpo', () => {
  it('raises the chosen-minus-rejected log-prob margin against the reference', async () => {
    const rows: PairRow[] = Array.from({ length: 16 }, (_, i) => ({
      prompt: [{ role: 'user', content: `Is ${i} fine?` }],
      chosen: i % 2 ? 'yes, fine' : 'sure, yes',
      rejected: i % 2 ? 'no way' : 'never no',
    }));
    const h: DpoHyper = { ...hyper({ epochs: 4, batchSize: 4, learningRate: 2e-2 }), beta: 0.1, labelSmoothing: 0, rpoAlpha: 0, lossType: 'sigmoid' };
    const progress: string[] = [];
    const r = await trainDpo({
      modelDir: policyDir,
      referenceDir: policyDir,
      rows,
      hyper: h,
      outDir: join(tmp, 'dpo-out'),
      checkpoint: { dir: join(tmp, 'dpo-ck'), everySteps: 5 },
      onProgress: (p) => progress.push(p.detail?.phase === 'reference-logps' ? `ref ${p.detail['sequences']}/${p.detail['of']}` : `step ${p.done}`),
    });
    expect(r.steps).toBe(16);
    // Progress is visible while the reference log-probs of the 2 × 16 responses are computed (batches of 4), then per step.
    expect(progress.slice(0, 8)).toEqual([4, 8, 12, 16, 20, 24, 28, 32].map((k) => `ref ${k}/32`));
    expect(progress.at(-1)).toBe('step 16');
    expect(r.lossCurve[0]!.loss).toBeCloseTo(Math.log(2), 5); // policy = reference at step 1
    expect(r.finalLoss).toBeLessThan(0.5 * Math.log(2));
    const tok = loadTokenizer(policyDir);
    const { examples } = tokenizePairRows(tok, rows, h, 'dpo');
    const seqs = [...examples.map((e) => e.chosen), ...examples.map((e) => e.rejected)];
    const ref = loadHfModel(policyDir);
    const pol = loadHfModel(join(tmp, 'dpo-out'));
    const refLp = await sequenceLogps(ref.config, ref.weights, seqs);
    const polLp = await sequenceLogps(pol.config, pol.weights, seqs);
    const n = examples.length;
    let margin = 0;
    for (let i = 0; i < n; i++) margin += (polLp[i]! - refLp[i]!) - (polLp[n + i]! - refLp[n + i]!);
    margin /= n;
    expect(margin).toBeGreaterThan(5); // nats; 0 before training
    expect(r.metrics['reward_accuracy']).toBeGreaterThan(0.5);
    // the checkpoint carries the reference log-probs
    expect(existsSync(join(tmp, 'dpo-ck', 'step-000015', 'extra.safetensors'))).toBe(true);
  });
});

describe('objectives reuse their gradient buffers', () => {
  it('a run writes the same gradients as a fresh objective, into the buffers of the previous run', async () => {
    const pol = loadHfModel(policyDir);
    const tok = loadTokenizer(policyDir);
    const pairs = (k: number): PairRow[] =>
      Array.from({ length: 3 }, (_, i) => ({ prompt: `q${k}${i}`, chosen: ` yes ${k + i}`, rejected: ` no ${i}${k}${i}` }));
    const items = (k: number) =>
      tokenizePairRows(tok, pairs(k), hyper(), 'dpo').examples.map((pair, i) => ({ pair, refChosen: -5 - i, refRejected: -6 + k }));
    const params = { beta: 0.1, labelSmoothing: 0, rpoAlpha: 0, lossType: 'sigmoid' as const };
    const reused = dpoObjective(pol.config, params);
    const first = await reused.run(pol.weights, items(1));
    const firstBuffers = new Map(first.grads);
    const second = await reused.run(pol.weights, items(2));
    const fresh = dpoObjective(pol.config, params);
    const want = await fresh.run(pol.weights, items(2));
    for (const [name, g] of want.grads) {
      expect(second.grads.get(name), name).toBe(firstBuffers.get(name));
      expect(Buffer.from(second.grads.get(name)!.buffer).equals(Buffer.from(g.buffer)), name).toBe(true);
    }
    expect(second.loss).toBe(want.loss);
    // The graph's Σ g² (the clipping norm's square) matches the gradients it returned.
    let sq = 0;
    for (const g of second.grads.values()) for (const x of g) sq += x * x;
    expect(Math.abs(second.gradSquaredNorm! - sq) / sq).toBeLessThan(1e-5);
    await Promise.all([reused.release(), fresh.release()]);
  });
});

