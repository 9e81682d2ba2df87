// Bad-input corpus (test/corpus/) and property tests for every parser and validator that reads user or
// stored data without S3: dataset import (JSONL), safetensors, HF config.json, recipe options, the
// environment config, scored rows → preference pairs. Each bad input must fail with the parser's own typed
// error naming the file/field/variable (or be accepted) — never a TypeError, RangeError or a hang.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DataImportError, importPairs, importPrompts, importSftRows, normalizePairRecord, normalizePromptRecord, normalizeSftRecord, parseJsonl } from '../../tasks/import';
import { readSafetensors, readSafetensorsHeader } from '../../engine/hf/safetensors';
import { parseLlamaConfig, readLlamaConfig } from '../../engine/hf/config';
import { loadHfModel } from '../../engine/hf/checkpoint';
import { ENGINE_INPUT_ERROR } from '../../engine/api';
import { RecipeError, resolveRecipe, RECIPE_DEFAULTS } from '../../shared/recipe';
import { ConfigError, loadConfig } from '../../shared/config';
import { activitySlots } from '../../workers/main';
import { buildPairs, checkScoredRow, PairDataError, type ScoredRow } from '../../shared/pairs';

const CORPUS = fileURLToPath(new URL('../corpus/', import.meta.url));
const corpus = (dir: string): string[] => readdirSync(join(CORPUS, dir)).sort().map((f) => join(CORPUS, dir, f));
const tmp = mkdtempSync(join(tmpdir(), 'rlhf-reliability-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs fn; returns the error it threw (or undefined). Fails the test on an error of another class. */
function outcome(fn: () => unknown, isExpected: (e: unknown) => boolean): Error | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!isExpected(err)) throw new Error(`unexpected ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
    return err as Error;
  }
}
async function outcomeAsync(fn: () => Promise<unknown>, isExpected: (e: unknown) => boolean): Promise<Error | undefined> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    if (!isExpected(err)) throw new Error(`unexpected ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
    return err as Error;
  }
}
const isImport = (e: unknown) => e instanceof DataImportError;
const isEngineInput = (e: unknown) => e instanceof Error && e.name === ENGINE_INPUT_ERROR;

describe('dataset import (JSONL)', () => {
  const expected: Record<string, RegExp | number> = {
    'empty.jsonl': /has no rows/,
    'only-blank-lines.jsonl': /has no rows/,
    'malformed-line-3.jsonl': /:3: invalid JSON/,
    'truncated-last-line.jsonl': /:3: invalid JSON/,
    'invalid-utf8-line-2.jsonl': /:2: invalid UTF-8/,
    'overlong-utf8.jsonl': /:1: invalid UTF-8/,
    'lone-surrogate-bytes.jsonl': /:1: invalid UTF-8/,
    'nul-bytes.jsonl': /:2: invalid JSON/,
    'crlf.jsonl': 2,
    'bom.jsonl': 1,
    'row-is-array.jsonl': /:1: row must be a JSON object/,
    'row-is-null.jsonl': /:1: row must be a JSON object/,
    'row-is-string.jsonl': /:1: row must be a JSON object/,
    'prompt-is-number.jsonl': /:1: .*prompt/,
    'prompt-empty.jsonl': /:1: "prompt" is empty/,
    'messages-not-list.jsonl': /:1: "messages" must be a non-empty list/,
    'messages-no-user.jsonl': /:1: "messages" has no user message/,
    'messages-bad-item.jsonl': /:1: "messages\[0\]" must be/,
    'messages-json-string-broken.jsonl': /:1: "messages" is a string that is not a JSON list/,
    'no-prompt-field.jsonl': /:1: missing prompt/,
    'deeply-nested.jsonl': /:1: /,
  };

  it('every corpus file gives rows or a DataImportError naming file:line', async () => {
    for (const file of corpus('jsonl')) {
      const name = file.slice(file.lastIndexOf('/') + 1);
      if (name.startsWith('scored-') || name.startsWith('pair-') || name.startsWith('sft-')) continue;
      let rows: unknown[] | undefined;
      const err = await outcomeAsync(async () => (rows = await importPrompts(file)), isImport);
      const want = expected[name];
      expect(want, `no expectation for corpus file ${name}`).toBeDefined();
      if (typeof want === 'number') {
        expect(err, `${name}: ${err?.message}`).toBeUndefined();
        expect(rows).toHaveLength(want);
      } else {
        expect(err?.message, name).toMatch(want as RegExp);
        expect(err?.message).toContain(file);
      }
    }
  });

  it('pairs and SFT rows with a missing or mistyped field name the field', async () => {
    await expect(importPairs(join(CORPUS, 'jsonl', 'pair-missing-rejected.jsonl'))).rejects.toThrow(/:1: "rejected" is missing/);
    await expect(importPairs(join(CORPUS, 'jsonl', 'pair-chosen-number.jsonl'))).rejects.toThrow(/:1: "chosen" must be/);
    await expect(importSftRows(join(CORPUS, 'jsonl', 'sft-missing-response.jsonl'))).rejects.toThrow(DataImportError);
  });

  it('a missing file, an unknown extension and a directory fail clearly', async () => {
    await expect(importPrompts(join(tmp, 'nope.jsonl'))).rejects.toThrow(/file not found/);
    await expect(importPrompts(join(tmp, 'data.csv'))).rejects.toThrow(/unknown dataset format/);
    mkdirSync(join(tmp, 'dir.jsonl'));
    await expect(importPrompts(join(tmp, 'dir.jsonl'))).rejects.toThrow(/cannot read file \(EISDIR\)/);
    await expect(importPrompts('s3://bucket-only.jsonl')).rejects.toThrow(/not an S3 object URI/);
  });

  it('a huge line (8 MiB prompt) is read, not truncated', async () => {
    const file = join(tmp, 'huge.jsonl');
    const prompt = 'x'.repeat(8 * 1024 * 1024);
    writeFileSync(file, `${JSON.stringify({ prompt })}\n{"prompt": "small"}\n`);
    const rows = await importPrompts(file);
    expect(rows.map((r) => (r.prompt as string).length)).toEqual([prompt.length, 5]);
  });

  it('property: any text → records or DataImportError; any JSON row → a row or DataImportError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        outcome(() => parseJsonl(text, 'fuzz.jsonl'), isImport);
      }),
      { numRuns: 500 },
    );
    const record = fc.oneof(
      fc.jsonValue(),
      fc.record({ prompt: fc.jsonValue(), messages: fc.jsonValue(), chosen: fc.jsonValue(), rejected: fc.jsonValue(), response: fc.jsonValue() }, { requiredKeys: [] }),
      fc.record({ messages: fc.array(fc.record({ role: fc.oneof(fc.constantFrom('user', 'assistant', 'system'), fc.jsonValue()), content: fc.jsonValue() }, { requiredKeys: [] })) }),
    );
    fc.assert(
      fc.property(record, (r) => {
        for (const normalize of [normalizePromptRecord, normalizeSftRecord, normalizePairRecord]) {
          const err = outcome(() => normalize(r, 'fuzz.jsonl:1'), isImport);
          if (err) expect(err.message.startsWith('fuzz.jsonl:1: ')).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('safetensors', () => {
  it('every corrupt corpus file fails with EngineInputError naming the file; the valid one reads', () => {
    for (const file of corpus('safetensors')) {
      const name = file.slice(file.lastIndexOf('/') + 1);
      const err = outcome(() => readSafetensors(file), isEngineInput);
      const headerErr = outcome(() => readSafetensorsHeader(file), isEngineInput);
      // Tolerated: non-string __metadata__ values (informational only).
      if (name === 'metadata-not-strings.safetensors') {
        expect(err).toBeUndefined();
        continue;
      }
      if (name === 'valid.safetensors') {
        expect(err).toBeUndefined();
        expect([...readSafetensors(file).tensors.get('w')!.data]).toEqual([1, 2]);
        continue;
      }
      expect(err, `${name} was accepted`).toBeDefined();
      expect(err!.message, name).toContain(file);
      // The header-only reader rejects header problems too (data problems it may not see).
      if (/header|empty|seven/.test(name)) expect(headerErr, name).toBeDefined();
    }
  });

  it('property: any byte mutation or truncation of a valid file → tensors or EngineInputError', () => {
    const valid = readFileSync(join(CORPUS, 'safetensors', 'valid.safetensors'));
    const file = join(tmp, 'fuzz.safetensors');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat({ max: valid.length }),
        (flips, cut) => {
          const bytes = Buffer.from(valid);
          for (const [i, v] of flips) bytes[i] = v;
          writeFileSync(file, bytes.subarray(0, cut === 0 ? valid.length : cut));
          outcome(() => readSafetensors(file), isEngineInput);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('property: any header JSON → tensors or EngineInputError', () => {
    const file = join(tmp, 'fuzz-header.safetensors');
    const entry = fc.record({ dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'F64'), fc.jsonValue()), shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 5 }), { maxLength: 3 }), fc.jsonValue()), data_offsets: fc.oneof(fc.tuple(fc.integer({ min: -4, max: 40 }), fc.integer({ min: -4, max: 40 })), fc.jsonValue()) }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(entry, fc.jsonValue()), { maxKeys: 3 }), fc.nat({ max: 40 }), (header, dataBytes) => {
        const h = Buffer.from(JSON.stringify(header));
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(h.length));
        writeFileSync(file, Buffer.concat([len, h, Buffer.alloc(dataBytes)]));
        outcome(() => readSafetensors(file), isEngineInput);
      }),
      { numRuns: 500 },
    );
  });
});

describe('HF config.json', () => {
  it('every bad corpus config fails with EngineInputError naming config.json (and the field)', () => {
    for (const file of corpus('hf-config')) {
      const name = file.slice(file.lastIndexOf('/') + 1);
      const dir = join(tmp, `cfg-${name}`);
      mkdirSync(dir, { recursive: true });
      copyFileSync(file, join(dir, 'config.json'));
      const err = outcome(() => readLlamaConfig(dir), isEngineInput);
      // Tolerated by the config parser: a bare architecture string (read as that one architecture) and a huge
      // hidden_size (the weight-shape check of loadHfModel rejects such a model, tested below).
      if (name === 'valid.json' || name === 'architectures-not-list.json' || name === 'huge-hidden.json') {
        expect(err, err?.message).toBeUndefined();
        continue;
      }
      expect(err, `${name} was accepted`).toBeDefined();
      expect(err!.message, name).toContain(join(dir, 'config.json'));
    }
    expect(outcome(() => readLlamaConfig(join(tmp, 'missing-dir')), isEngineInput)?.message).toMatch(/model config not found/);
    // A config that parses but does not match the weights: the loader names the tensor and the shapes.
    const dir = join(tmp, 'huge-model');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(CORPUS, 'hf-config', 'huge-hidden.json'), join(dir, 'config.json'));
    copyFileSync(join(CORPUS, 'safetensors', 'valid.safetensors'), join(dir, 'model.safetensors'));
    expect(outcome(() => loadHfModel(dir), isEngineInput)?.message).toMatch(/missing tensor|shape/);
  });

  it('property: any JSON value, or the valid config with any field replaced → a config or EngineInputError', () => {
    const valid = JSON.parse(readFileSync(join(CORPUS, 'hf-config', 'valid.json'), 'utf8')) as Record<string, unknown>;
    fc.assert(fc.property(fc.jsonValue(), (json) => void outcome(() => parseLlamaConfig(json), isEngineInput)), { numRuns: 300 });
    const value = fc.oneof(fc.jsonValue(), fc.double(), fc.integer({ min: -3, max: 1e9 }), fc.constant(undefined));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...Object.keys(valid), 'rope_scaling', 'head_dim', 'pad_token_id', 'eos_token_id', 'bos_token_id'), value, { maxKeys: 4 }), (changes) => {
        const err = outcome(() => parseLlamaConfig({ ...valid, ...changes }, 'fuzz/config.json'), isEngineInput);
        if (err) expect(err.message).toContain('fuzz/config.json');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('recipe options', () => {
  it('every corpus recipe is rejected with a RecipeError naming the option', () => {
    for (const file of corpus('recipe')) {
      const name = file.slice(file.lastIndexOf('/') + 1);
      const input = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      const err = outcome(() => resolveRecipe(input), (e) => e instanceof RecipeError);
      expect(err, `${name} was accepted`).toBeDefined();
      expect((err as RecipeError).problems.length, name).toBeGreaterThan(0);
    }
    expect(() => resolveRecipe({ sedd: 42 })).toThrow(/sedd/);
    expect(() => resolveRecipe({ online: { betta: 0.1 } })).toThrow(/online\.betta/);
    expect(() => resolveRecipe({ online: { beta: -0.1 } })).toThrow(/online\.beta/);
  });

  it('property: random option trees → options or RecipeError, and accepted options re-validate', () => {
    const leafPaths: string[] = [];
    const walk = (v: unknown, p: string): void => {
      if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, p ? `${p}.${k}` : k);
      else leafPaths.push(p);
    };
    walk(RECIPE_DEFAULTS, '');
    const value = fc.oneof(fc.jsonValue(), fc.double(), fc.integer({ min: -5, max: 100_000 }), fc.constantFrom('1s', '10 minutes', 'sft', 'previous', 'max_min', 'cosine', 'drop'));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...leafPaths, 'unknown.key', 'online.unknown'), value), { maxLength: 4 }), (changes) => {
        const input: Record<string, unknown> = {};
        for (const [path, v] of changes) {
          const parts = path.split('.');
          let node = input;
          for (const part of parts.slice(0, -1)) node = (node[part] = typeof node[part] === 'object' && node[part] !== null ? node[part] : {}) as Record<string, unknown>;
          node[parts[parts.length - 1] as string] = v;
        }
        let resolved: unknown;
        outcome(() => (resolved = resolveRecipe(input)), (e) => e instanceof RecipeError);
        if (resolved) expect(resolveRecipe(resolved)).toEqual(resolved);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('environment config', () => {
  const variables = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_REGION', 'S3_FORCE_PATH_STYLE', 'S3_PART_SIZE_MB', 'S3_UPLOAD_CONCURRENCY', 'S3_MULTIPART_THRESHOLD_MB', 'RLHF_CONTROL_QUEUE', 'RLHF_LOG_LEVEL', 'RLHF_WORKER_QUEUES', 'RLHF_SHUTDOWN_GRACE', 'RLHF_MAX_CACHED_WORKFLOWS', 'RLHF_TRAIN_CONCURRENCY', 'RLHF_INFERENCE_PREFETCH', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'TEMPORAL_TLS', 'S3_SSE', 'S3_SSE_KMS_KEY_ID'];

  it('property: any values → a config or a ConfigError naming the variable', () => {
    const text = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('-1', '0', '99999999999999999999', '1e3', '5', 'true', 'maybe', 'http://', 'ftp://x', 'aws', ' ', '\u0000', 'AES256', 'aws:kms'));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...variables), text, { maxKeys: 4 }), (env) => {
        const err = outcome(() => loadConfig(env), (e) => e instanceof ConfigError);
        if (err) {
          const variable = (err as ConfigError).variable;
          expect(variables.concat(['TEMPORAL_PROFILE', 'TEMPORAL_CONFIG_FILE'])).toContain(variable);
          expect(err.message).toContain(variable);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('out-of-range numbers name the variable and the range', () => {
    expect(() => loadConfig({ S3_PART_SIZE_MB: '4' })).toThrow(/S3_PART_SIZE_MB='4': expected an integer from 5 to 5120/);
    expect(() => loadConfig({ RLHF_TRAIN_CONCURRENCY: '0' })).toThrow(/RLHF_TRAIN_CONCURRENCY/);
    expect(() => loadConfig({ RLHF_WORKER_QUEUES: 'control,gpu' })).toThrow(/RLHF_WORKER_QUEUES='control,gpu'/);
    expect(() => loadConfig({ RLHF_INFERENCE_PREFETCH: '-1' })).toThrow(/RLHF_INFERENCE_PREFETCH='-1': expected an integer from 0 to 1000/);
  });

  it('inference prefetch: off by default; the worker holds RLHF_INFERENCE_CONCURRENCY + RLHF_INFERENCE_PREFETCH inference tasks', () => {
    expect(loadConfig({}).worker.inferencePrefetch).toBe(0);
    const config = loadConfig({ RLHF_INFERENCE_PREFETCH: '1', RLHF_INFERENCE_CONCURRENCY: '2' });
    expect(config.worker.inferencePrefetch).toBe(1);
    expect(activitySlots(config, 'inference')).toBe(3);
    expect(activitySlots(config, 'train')).toBe(1);
    expect(activitySlots(config, 'control')).toBe(8);
  });
});

describe('rewards into pair building', () => {
  const opts = { selector: 'max_min' as const, tieRule: 'drop' as const, marginThreshold: 0, lengthPenalty: 0 };
  const row = (rewards: number[]): ScoredRow => ({ prompt: 'p', responses: rewards.map((_, i) => `r${i}`), rewards });

  it('NaN, ±Infinity and null rewards are rejected with PairDataError (never a NaN-margin pair)', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => checkScoredRow(row([bad, 1]), 'shard 0 row 1')).toThrow(PairDataError);
      expect(() => buildPairs([{ index: 0, row: row([1, bad, 0]) }], opts, 1)).toThrow(/row 0: "rewards" must be a list of finite numbers/);
    }
    // What JSON gives for NaN (null), from the corpus.
    for (const name of ['scored-nan-reward.jsonl', 'scored-null-reward.jsonl', 'scored-huge-reward.jsonl', 'scored-k-mismatch.jsonl', 'scored-one-response.jsonl']) {
      const text = readFileSync(join(CORPUS, 'jsonl', name), 'utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        continue; // NaN is not JSON: the store's reader fails first with MalformedJsonlError
      }
      expect(() => checkScoredRow(parsed, name, 2), name).toThrow(PairDataError);
    }
  });

  it('property: finite rewards → every pair has distinct sides and a finite margin ≥ threshold; stats add up', () => {
    const rows = fc.array(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(rows, fc.constantFrom('max_min', 'max_max', 'max_random', 'random') as fc.Arbitrary<'max_min'>, fc.double({ min: 0, max: 1, noNaN: true }), (rs, selector, threshold) => {
        const { pairs, stats } = buildPairs(rs.map((r, index) => ({ index, row: row(r) })), { ...opts, selector, marginThreshold: threshold }, 7);
        for (const p of pairs) {
          expect(p.chosen).not.toBe(p.rejected);
          expect(Number.isFinite(p.margin)).toBe(true);
          expect(p.margin).toBeGreaterThanOrEqual(threshold);
        }
        expect(stats.pairs + stats.dropped.tie + stats.dropped.identical + stats.dropped.margin).toBe(rs.length);
      }),
      { numRuns: 300 },
    );
  });
});
