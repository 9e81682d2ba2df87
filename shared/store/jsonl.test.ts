import { describe, expect, it } from 'vitest';
import { parseJsonl, type JsonlLineError } from './jsonl';

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(bytes: Uint8Array, size: number): Promise<unknown[]> {
  const rows: unknown[] = [];
  for await (const row of parseJsonl(chunked(bytes, size), (e: JsonlLineError) => {
    throw new Error(`line ${e.line}: ${e.reason}`);
  })) {
    rows.push(row);
  }
  return rows;
}

describe('parseJsonl', () => {
  const rows = [{ text: 'héllo → 世界 🎉' }, { n: 1 }, { nested: { a: [1, 2] } }];
  const text = `${rows.map((r) => JSON.stringify(r)).join('\r\n')}\r\n\n`;
  const bytes = new TextEncoder().encode(text);

  it.each([1, 2, 3, 5, 7, 64, 4096])('gives the same rows whatever the chunk size (%i bytes)', async (size) => {
    expect(await collect(bytes, size)).toEqual(rows);
  });

  it('reads a last line without a newline', async () => {
    expect(await collect(new TextEncoder().encode('{"a":1}\n{"a":2}'), 3)).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('names the 1-based line of a malformed row, counting blank lines', async () => {
    await expect(collect(new TextEncoder().encode('{"a":1}\n\n{"a":\n'), 4)).rejects.toThrow(/^line 3: /);
  });

  it('names the line holding invalid UTF-8', async () => {
    const bad = new Uint8Array([...new TextEncoder().encode('{"a":1}\n{"a":"'), 0xff, 0xfe, ...new TextEncoder().encode('"}\n')]);
    await expect(collect(bad, 100)).rejects.toThrow('line 2: invalid UTF-8');
    await expect(collect(bad, 3)).rejects.toThrow('line 2: invalid UTF-8');
  });
});
