// `durable-rlhf import`: normalize a local chat-format dataset, upload it as JSONL, and read it back through
// s3://; malformed rows are one line naming file and line.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../cli/context';
import { main } from '../../cli/main';
import type { ArtifactStore } from '../../shared/store';
import { getTestEnv, getTestStore, uniquePrefix } from '../helpers/services';

let store: ArtifactStore;
let dir: string;

function capture(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), stdout: process.stdout };
}

beforeAll(async () => {
  Object.assign(process.env, getTestEnv());
  store = getTestStore();
  await store.ensureBucket();
  dir = mkdtempSync(join(tmpdir(), 'rlhf-cli-import-'));
});

describe('durable-rlhf import', () => {
  it('normalizes, uploads and re-reads a dataset', async () => {
    const src = join(dir, 'pairs.jsonl');
    const user = { role: 'user', content: 'sort 21' };
    writeFileSync(
      src,
      [
        JSON.stringify({ prompt: 'sort 312\n', chosen: '123', rejected: '132', extra: 1 }),
        JSON.stringify({ chosen: [user, { role: 'assistant', content: '12' }], rejected: [user, { role: 'assistant', content: '21' }] }),
      ].join('\n'),
    );
    const key = `${uniquePrefix('import')}/pairs.jsonl`;
    const io = capture();
    expect(await main(['import', 'pairs', src, '--to', `s3://${store.bucket}/${key}`, '--out', join(dir, 'out.jsonl')], io)).toBe(0);
    expect(io.errors).toEqual([]);
    expect(io.lines).toEqual([
      `${src}: 2 pairs rows OK (1 in chat format)`,
      `wrote ${join(dir, 'out.jsonl')}`,
      `uploaded to s3://${store.bucket}/${key}`,
      `use it with: --set data.preferencesUri=s3://${store.bucket}/${key}`,
    ]);
    const expected = [
      { prompt: 'sort 312\n', chosen: '123', rejected: '132' },
      { prompt: [user], chosen: '12', rejected: '21' },
    ];
    expect((await store.getText(key)).trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(expected);
    expect(readFileSync(join(dir, 'out.jsonl'), 'utf8')).toBe(await store.getText(key));

    const again = capture();
    expect(await main(['import', 'pairs', `s3://${store.bucket}/${key}`], again)).toBe(0);
    expect(again.lines).toEqual([`s3://${store.bucket}/${key}: 2 pairs rows OK (1 in chat format)`]);
  });

  it('fails in one line naming the file and line of a bad row', async () => {
    const src = join(dir, 'bad.jsonl');
    writeFileSync(src, '{"prompt": "a"}\n{"promt": "b"}\n');
    const io = capture();
    expect(await main(['import', 'prompts', src], io)).toBe(1);
    expect(io.errors).toEqual([`error: ${src}:2: missing prompt: expected "prompt" or "messages"/"context_messages"`]);
    const usage = capture();
    expect(await main(['import', 'rows', src], usage)).toBe(2);
    expect(usage.errors).toEqual(["error: unknown dataset kind 'rows': expected prompts, sft or pairs"]);
    const missing = capture();
    expect(await main(['import', 'prompts', `s3://${store.bucket}/${uniquePrefix('none')}/x.jsonl`], missing)).toBe(1);
    expect(missing.errors[0]).toMatch(/^error: S3 object s3:\/\/.*\/x\.jsonl not found$/);
  });
});
