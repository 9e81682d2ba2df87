// The artifact store's streaming JSONL parser (shared/store/jsonl.ts) on arbitrary bytes split into
// arbitrary chunks: it yields rows or reports ONE bad line (MalformedJsonlError in the store), and the outcome
// — rows, or the failing line number and kind — does not depend on where the chunks split. Plus the bad-input
// corpus read back through the real store (versitygw) as committed artifacts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonl, type JsonlLineError } from '../../shared/store/jsonl';
import { MalformedJsonlError, StoreError } from '../../shared/store';
import { getTestStore, uniquePrefix } from '../helpers/services';

class LineFailure extends Error {
  constructor(readonly detail: JsonlLineError) {
    super(`line ${detail.line}: ${detail.reason}`);
  }
}

async function outcome(bytes: Uint8Array, cuts: number[]): Promise<{ rows: unknown[] } | { line: number; utf8: boolean }> {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  const source = (async function* () {
    for (const c of chunks) yield c;
  })();
  const rows: unknown[] = [];
  try {
    for await (const row of parseJsonl(source, (e) => {
      throw new LineFailure(e);
    }))
      rows.push(row);
    return { rows };
  } catch (err) {
    if (!(err instanceof LineFailure)) throw err;
    expect(err.detail.line).toBeGreaterThanOrEqual(1);
    return { line: err.detail.line, utf8: err.detail.reason === 'invalid UTF-8' };
  }
}

const CORPUS = fileURLToPath(new URL('../corpus/jsonl/', import.meta.url));

describe('store JSONL parser', () => {
  it('property: outcome independent of chunking, for JSON-ish and arbitrary bytes', async () => {
    const line = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.constantFrom('', '  ', '{"prompt": "caf\u00e9 \u00fc\u20ac\ud83d\ude00"}', '{"a":', '\r'),
    );
    const text = fc.array(line, { maxLength: 8 }).map((ls) => new Uint8Array(Buffer.from(ls.join('\n'))));
    const bytes = fc.oneof(text, fc.uint8Array({ maxLength: 60 }), fc.tuple(text, fc.uint8Array({ maxLength: 4 }), text).map(([a, b, c]) => new Uint8Array(Buffer.concat([a, b, c]))));
    await fc.assert(
      fc.asyncProperty(bytes, fc.array(fc.nat(), { maxLength: 6 }), async (b, cuts) => {
        const whole = await outcome(b, []);
        const split = await outcome(b, cuts);
        expect(split).toEqual(whole);
        const byteWise = await outcome(b, Array.from({ length: b.length }, (_, i) => i));
        expect(byteWise).toEqual(whole);
      }),
      { numRuns: 600 },
    );
  });

  it('corpus files read back from S3 give rows or MalformedJsonlError naming the key and line', async () => {
    const store = getTestStore();
    const prefix = uniquePrefix('corpus');
    const files = readdirSync(CORPUS).sort();
    const entries = [];
    for (const f of files) entries.push(await store.putBytes(`${prefix}/${f}`, readFileSync(join(CORPUS, f))));
    await store.commit(prefix, entries);
    const outcomes: Record<string, string> = {};
    for (const f of files) {
      try {
        const rows = await store.readCommittedJsonlAll(prefix, f);
        outcomes[f] = `rows ${rows.length}`;
      } catch (err) {
        expect(err, f).toBeInstanceOf(StoreError);
        expect(err, f).toBeInstanceOf(MalformedJsonlError);
        expect((err as Error).message).toContain(`${prefix}/${f}`);
        outcomes[f] = `line ${(err as MalformedJsonlError).line}`;
      }
    }
    expect(outcomes).toMatchObject({
      'empty.jsonl': 'rows 0',
      'only-blank-lines.jsonl': 'rows 0',
      'malformed-line-3.jsonl': 'line 3',
      'truncated-last-line.jsonl': 'line 3',
      'invalid-utf8-line-2.jsonl': 'line 2',
      'nul-bytes.jsonl': 'line 2',
      'crlf.jsonl': 'rows 2',
      'scored-nan-reward.jsonl': 'line 1',
      'deeply-nested.jsonl': 'rows 1',
    });
  });

  it('a huge line (16 MiB) in a committed object is read whole', async () => {
    const store = getTestStore();
    const prefix = uniquePrefix('huge-line');
    const prompt = 'y'.repeat(16 * 1024 * 1024);
    const obj = await store.writeJsonl(`${prefix}/rows.jsonl`, [{ prompt }, { prompt: 'small' }]);
    await store.commit(prefix, [obj]);
    const rows = await store.readCommittedJsonlAll<{ prompt: string }>(prefix, 'rows.jsonl');
    expect(rows.map((r) => r.prompt.length)).toEqual([prompt.length, 5]);
  }, 120_000);
});
