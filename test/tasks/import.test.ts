import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataImportError, importPairs, importPrompts, importSftRows, toJsonl } from '../../tasks/import';

let dir: string;
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rlhf-import-'));
});

describe('JSONL import', () => {
  it('normalizes plain and chat prompts', async () => {
    const path = file(
      'prompts.jsonl',
      [
        '{"prompt": "sort 321\\n"}',
        '',
        '{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "dropped"}]}',
        '{"context_messages": [{"role": "user", "content": "q"}]}',
      ].join('\n'),
    );
    expect(await importPrompts(path)).toEqual([
      { prompt: 'sort 321\n' },
      { prompt: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] },
      { prompt: [{ role: 'user', content: 'q' }] },
    ]);
  });

  it('normalizes pairs in TRL text, explicit-prompt chat and implicit-prompt chat formats', async () => {
    const user = { role: 'user', content: 'sort 21' };
    const path = file(
      'pairs.jsonl',
      [
        JSON.stringify({ prompt: 'sort 21\n', chosen: '12', rejected: '21', margin: 1 }),
        JSON.stringify({ prompt: [user], chosen: [{ role: 'assistant', content: '12' }], rejected: [{ role: 'assistant', content: '2' }] }),
        JSON.stringify({ chosen: [user, { role: 'assistant', content: '12' }], rejected: [user, { role: 'assistant', content: '1' }] }),
        JSON.stringify({ prompt: 'x', chosen: '[not json', rejected: '[1, 2]' }),
      ].join('\n'),
    );
    expect(await importPairs(path)).toEqual([
      { prompt: 'sort 21\n', chosen: '12', rejected: '21' },
      { prompt: [user], chosen: '12', rejected: '2' },
      { prompt: [user], chosen: '12', rejected: '1' },
      { prompt: 'x', chosen: '[not json', rejected: '[1, 2]' },
    ]);
  });

  it('normalizes SFT rows from prompt/response and messages', async () => {
    const path = file(
      'sft.jsonl',
      [
        '{"prompt": "sort 21\\n", "response": "12"}',
        '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}',
      ].join('\n'),
    );
    expect(await importSftRows(path)).toEqual([
      { prompt: 'sort 21\n', response: '12' },
      { prompt: [{ role: 'user', content: 'a' }], response: 'b' },
    ]);
  });

  it('names file and line of malformed rows', async () => {
    const bad = async (kind: 'prompts' | 'pairs' | 'sft', text: string): Promise<string> => {
      const path = file(`bad-${kind}.jsonl`, text);
      const run = kind === 'prompts' ? importPrompts : kind === 'pairs' ? importPairs : importSftRows;
      const err = await run(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DataImportError);
      return (err as Error).message.replace(dir, '<dir>');
    };
    expect(await bad('prompts', '{"prompt": "a"}\n{"prompt": "b"')).toMatch(/^<dir>\/bad-prompts\.jsonl:2: invalid JSON/);
    expect(await bad('prompts', '{"prompt": "a"}\n\n{"text": "b"}')).toBe('<dir>/bad-prompts.jsonl:3: missing prompt: expected "prompt" or "messages"/"context_messages"');
    expect(await bad('prompts', '[1]')).toBe('<dir>/bad-prompts.jsonl:1: row must be a JSON object');
    expect(await bad('pairs', '{"prompt": "a", "chosen": "x"}')).toBe('<dir>/bad-pairs.jsonl:1: "rejected" is missing');
    expect(await bad('pairs', '{"prompt": "a", "chosen": "x", "rejected": "x"}')).toBe('<dir>/bad-pairs.jsonl:1: "chosen" and "rejected" are identical');
    expect(await bad('pairs', '{"prompt": "a", "chosen": [{"role": "user"}], "rejected": "y"}')).toBe(
      '<dir>/bad-pairs.jsonl:1: "chosen[0]" must be {"role": string, "content": string}',
    );
    expect(await bad('sft', '{"prompt": "a"}')).toBe('<dir>/bad-sft.jsonl:1: "response" must be a string (missing)');
    expect(await bad('sft', '')).toBe('<dir>/bad-sft.jsonl: dataset has no rows');
  });

  it('reports missing files and unknown formats in one line', async () => {
    await expect(importPrompts(join(dir, 'nope.jsonl'))).rejects.toThrow(/nope\.jsonl: file not found$/);
    await expect(importPrompts(join(dir, 'data.csv'))).rejects.toThrow(/data\.csv: unknown dataset format: expected a \.jsonl or \.parquet file/);
    await expect(importPrompts('s3://bucket/p.jsonl')).rejects.toThrow('s3://bucket/p.jsonl: no S3 reader configured for s3:// sources');
  });

  it('reads s3:// sources through the given reader', async () => {
    const seen: string[] = [];
    const rows = await importPrompts('s3://data/sets/p.jsonl', {
      readS3: async (bucket, key) => {
        seen.push(`${bucket}|${key}`);
        return new TextEncoder().encode('{"prompt": "sort 1\\n"}\n');
      },
    });
    expect(seen).toEqual(['data|sets/p.jsonl']);
    expect(rows).toEqual([{ prompt: 'sort 1\n' }]);
  });

  it('round-trips through toJsonl and honours limit', async () => {
    const rows = [{ prompt: 'a' }, { prompt: 'b' }, { prompt: 'c' }];
    const path = file('rt.jsonl', toJsonl(rows));
    expect(await importPrompts(path)).toEqual(rows);
    expect(await importPrompts(path, { limit: 2 })).toEqual(rows.slice(0, 2));
  });
});

describe('Parquet import', () => {
  const writeParquet = (name: string, columnData: { name: string; data: unknown[]; type?: string }[]): string => {
    const path = join(dir, name);
    writeFileSync(path, new Uint8Array(parquetWriteBuffer({ columnData: columnData as never })));
    return path;
  };

  it('reads pairs and chat prompts (messages as a JSON column)', async () => {
    const pairs = writeParquet('pairs.parquet', [
      { name: 'prompt', data: ['sort 21\n', 'sort 312\n'], type: 'STRING' },
      { name: 'chosen', data: ['12', '123'], type: 'STRING' },
      { name: 'rejected', data: ['21', '132'], type: 'STRING' },
    ]);
    expect(await importPairs(pairs)).toEqual([
      { prompt: 'sort 21\n', chosen: '12', rejected: '21' },
      { prompt: 'sort 312\n', chosen: '123', rejected: '132' },
    ]);
    const chat = writeParquet('chat.parquet', [{ name: 'messages', data: [[{ role: 'user', content: 'hello' }]], type: 'JSON' }]);
    expect(await importPrompts(chat)).toEqual([{ prompt: [{ role: 'user', content: 'hello' }] }]);
  });

  it('names file and row of malformed rows, and unreadable files', async () => {
    const path = writeParquet('bad.parquet', [
      { name: 'prompt', data: ['a', 'b'], type: 'STRING' },
      { name: 'chosen', data: ['x', 'y'], type: 'STRING' },
      { name: 'rejected', data: ['z', 'y'], type: 'STRING' },
    ]);
    await expect(importPairs(path)).rejects.toThrow(`${path} row 2: "chosen" and "rejected" are identical`);
    const junk = file('junk.parquet', 'not parquet at all');
    await expect(importPrompts(junk)).rejects.toThrow(new RegExp(`^${junk.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read Parquet \\(`));
  });
});
