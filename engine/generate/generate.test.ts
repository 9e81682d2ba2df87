import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as ort from 'onnxruntime-node';
import { generate, generateWithTokens } from './generate';
import { InferenceModel } from './inference-model';
import { tinyModelDir } from './testing';
import { buildLlamaGraph } from '../model/llama';
import { createSession } from '../onnx';
import { loadHfModel } from '../hf/checkpoint';
import { EngineInputError } from '../errors';
import { padBatch } from '../score/score';

const fixture = tinyModelDir();
let model: InferenceModel;
let full: ort.InferenceSession; // whole-sequence forward, logits of every position

beforeAll(async () => {
  model = InferenceModel.load(fixture.dir);
  const hf = loadHfModel(fixture.dir);
  const { graph } = buildLlamaGraph(hf.config, { weightsAs: 'initializers', weights: (n) => hf.weights.get(n)!.data, logits: 'all' });
  full = await createSession(graph.toBytes());
});
afterAll(async () => {
  await model.release();
  await full.release();
  fixture.cleanup();
});

/** Logits [len, V] of one unpadded sequence from the full forward. */
async function fullLogits(ids: number[]): Promise<{ data: Float32Array; V: number }> {
  const { feeds } = padBatch([ids], 0, 'right');
  const out = await full.run(feeds);
  const data = out['logits']!.data as Float32Array;
  return { data, V: data.length / ids.length };
}

function logSoftmaxAt(data: Float32Array, off: number, V: number, t: number): number {
  let m = -Infinity;
  for (let i = 0; i < V; i++) m = Math.max(m, data[off + i]!);
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(data[off + i]! - m);
  return data[off + t]! - m - Math.log(s);
}

const prompts = ['Hi', 'A longer prompt, so the batch is left-padded', [{ role: 'user', content: 'chat turn' }], 'x'];

describe('generate', () => {
  it('greedy decoding with the KV cache matches argmax and log-probs of a full recompute', async () => {
    const first = await generateWithTokens(model, prompts, { n: 1, temperatures: [0], maxNewTokens: 24, seed: 'g', stopTokenIds: [] });
    // Stop rows at different steps (a token that row 0 emits at step 5) so finished rows are dropped mid-batch.
    const stopId = first.tokenIds[0]![0]![4]!;
    const firstAt = first.tokenIds[0]![0]!.indexOf(stopId);
    // batchSize 2: rows finish at different steps and waiting rows are admitted beside running ones.
    for (const batchSize of [16, 2]) {
      const { generations: gens, tokenIds } = await generateWithTokens(model, prompts, {
        n: 1,
        temperatures: [0],
        maxNewTokens: 24,
        seed: 'g',
        stopTokenIds: [stopId],
        batchSize,
      });
      const counts = gens.map((g) => g.tokenCounts[0]!);
      expect(counts[0]).toBe(firstAt + 1);
      // Row 0 stops while row 1 runs on: with batchSize 2, row 2 joins a running batch (its cache beside row 1's).
      expect(counts[1]).toBeGreaterThan(counts[0]!);
      let checked = 0;
      for (let i = 0; i < prompts.length; i++) {
        const promptIds = model.tokenizer.renderPrompt(prompts[i]!);
        const gen = gens[i]!;
        const tokens = tokenIds[i]![0]!;
        expect(tokens.length).toBe(gen.tokenCounts[0]);
        if (tokens.length < 24) expect(tokens.at(-1)).toBe(stopId);
        const seq = [...promptIds, ...tokens];
        const { data, V } = await fullLogits(seq);
        tokens.forEach((t, k) => {
          const pos = promptIds.length - 1 + k; // the position that predicts token k
          let best = 0;
          for (let v = 1; v < V; v++) if (data[pos * V + v]! > data[pos * V + best]!) best = v;
          expect(t).toBe(best);
          expect(Math.abs(gen.tokenLogprobs![0]![k]! - logSoftmaxAt(data, pos * V, V, t))).toBeLessThanOrEqual(1e-4);
          checked++;
        });
        expect(gen.logprobs[0]).toBeCloseTo(gen.tokenLogprobs![0]!.reduce((a, b) => a + b, 0), 6);
      }
      expect(checked).toBeGreaterThan(40);
    }
  });

  it('gives the same response for the same (seed, prompt id, sample index) in any batch composition', async () => {
    const opts = { n: 4, temperatures: [1.0, 0.7], maxNewTokens: 16, seed: 'run-42', topK: 50, topP: 0.95 };
    const all = await generate(model, prompts, { ...opts, batchSize: 16 });
    const small = await generate(model, prompts, { ...opts, batchSize: 3 });
    // Responses are identical; log-probs agree to float32 rounding (padding changes reduction lengths).
    const same = (a: (typeof all)[number], b: (typeof all)[number]) => {
      expect(a.responses).toEqual(b.responses);
      expect(a.tokenCounts).toEqual(b.tokenCounts);
      a.logprobs.forEach((x, j) => expect(Math.abs(x - b.logprobs[j]!)).toBeLessThan(1e-4));
    };
    all.forEach((g, i) => same(g, small[i]!));
    // Prompt 1 alone, with its original id: identical responses.
    const alone = await generate(model, [prompts[1]!], { ...opts, promptIds: [1], batchSize: 1 });
    same(alone[0]!, all[1]!);
    // Different samples of a prompt differ, and a different seed changes them.
    expect(new Set(all[1]!.responses).size).toBeGreaterThan(1);
    const other = await generate(model, [prompts[1]!], { ...opts, promptIds: [1], seed: 'run-43' });
    expect(other[0]!.responses).not.toEqual(all[1]!.responses);
  });

  it('applies temperatures per api.ts (half the samples at each) and greedy at temperature 0', async () => {
    const gens = await generate(model, ['Hi'], { n: 4, temperatures: [0, 1], maxNewTokens: 12, seed: 's', stopTokenIds: [] });
    const r = gens[0]!.responses;
    expect(r[0]).toBe(r[1]); // samples 0, 1 greedy
    const greedy = await generate(model, ['Hi'], { n: 1, temperatures: [0], maxNewTokens: 12, seed: 'other', stopTokenIds: [] });
    expect(greedy[0]!.responses[0]).toBe(r[0]);
  });

  it('cuts responses at stop strings', async () => {
    const base = await generate(model, ['Hi'], { n: 2, temperatures: [1], maxNewTokens: 30, seed: 'stop', stopTokenIds: [] });
    const text = base[0]!.responses[0]!;
    const ascii = [...text].findIndex((c, k) => k >= 3 && /[ -~]/.test(c));
    // Pick a stop string from inside sample 0's text (a printable char at or after position 3, or a 2-char slice).
    const stopString = ascii >= 0 ? text[ascii]! : text.slice(3, 5);
    const cut = await generate(model, ['Hi'], { n: 2, temperatures: [1], maxNewTokens: 30, seed: 'stop', stopTokenIds: [], stopStrings: [stopString] });
    const r = cut[0]!.responses[0]!;
    expect(r).toBe(text.slice(0, text.indexOf(stopString)));
    expect(cut[0]!.tokenCounts[0]).toBeLessThan(30);
    for (const resp of cut[0]!.responses) expect(resp.includes(stopString)).toBe(false);
  });

  it('rejects a prompt longer than max_position_embeddings with an EngineInputError naming it', async () => {
    const long = 'y'.repeat(200);
    const e = await generate(model, ['ok', long], { n: 1, temperatures: [1], maxNewTokens: 4, seed: 's' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EngineInputError);
    expect((e as Error).message).toMatch(/prompt 1 has 201 tokens.*max_position_embeddings 96/);
    await expect(generate(model, ['ok'], { n: 0, temperatures: [1], maxNewTokens: 4, seed: 's' })).rejects.toThrow(/option n/);
    await expect(generate(model, ['ok'], { n: 1, temperatures: [1], maxNewTokens: 4, seed: 's', topP: 0 })).rejects.toThrow(/option topP/);
  });

  it('stops at the context length and returns per-token log-probs', async () => {
    const prompt = 'z'.repeat(90); // 91 tokens with bos: 5 positions left
    const g = await generate(model, [prompt], { n: 1, temperatures: [1], maxNewTokens: 50, seed: 's', stopTokenIds: [] });
    expect(g[0]!.tokenCounts[0]).toBe(5);
    expect(g[0]!.tokenLogprobs![0]!).toHaveLength(5);
    for (const lp of g[0]!.tokenLogprobs![0]!) expect(lp).toBeLessThanOrEqual(0);
  });

  it('reports progress within a batch (throttled) and after each batch', async () => {
    const events: { done: number; tokens: number }[] = [];
    await generateWithTokens(model, ['a', 'b', 'c'], {
      n: 2,
      temperatures: [1],
      maxNewTokens: 10,
      seed: 'p',
      stopTokenIds: [],
      batchSize: 4,
      progressIntervalMs: 0,
      onProgress: (p) => events.push({ done: p.done, tokens: Number(p.detail?.['tokens']) }),
    });
    // Batch 1 (rows 0-3): steps report done 0; after it, 2 prompts are done; batch 2: done 2, then 3.
    expect(events.filter((e) => e.done === 0).length).toBeGreaterThanOrEqual(8);
    expect(events.at(-1)).toEqual({ done: 3, tokens: 60 });
    for (let k = 1; k < events.length; k++) expect(events[k]!.tokens).toBeGreaterThanOrEqual(events[k - 1]!.tokens);
  });

  it('honours an abort signal between steps', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(generate(model, ['Hi'], { n: 1, temperatures: [1], maxNewTokens: 4, seed: 's', signal: ac.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});
