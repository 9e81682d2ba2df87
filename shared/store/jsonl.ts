// JSON Lines parsing over byte chunks that split lines and UTF-8 characters anywhere.

/** Why a line is not a row: its 1-based number and the reason. */
export interface JsonlLineError {
  line: number;
  reason: string;
}

/** Parses JSON Lines from byte chunks. Blank lines are skipped (CRLF is fine); a bad line or invalid
 * UTF-8 calls `fail` (which must throw) with its 1-based line number. */
export async function* parseJsonl<T>(chunks: AsyncIterable<Uint8Array>, fail: (error: JsonlLineError) => never): AsyncGenerator<T> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  let lineNo = 0;
  const parse = (text: string): T | undefined => {
    lineNo += 1;
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      return fail({ line: lineNo, reason: (err as Error).message });
    }
  };
  const decode = (chunk?: Uint8Array): string => {
    try {
      return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
    } catch {
      // Locate the bad bytes: decode leniently and count the line breaks before the first replacement char.
      // The decoder holds back the incomplete sequence that ended the previous chunk: decode it again too.
      const text = pending + new TextDecoder('utf-8').decode(Buffer.concat([carried, chunk ?? new Uint8Array()]));
      const bad = text.indexOf('\uFFFD', pending.length);
      // No replacement char in this chunk: the bad sequence began in bytes the decoder carried over, i.e. at
      // the end of `pending`.
      const before = bad >= 0 ? text.slice(0, bad) : pending;
      // A complete line before the bad bytes that is not JSON is the first error, however the chunks split.
      const complete = before.split('\n').slice(0, -1);
      for (let i = 0; i < complete.length; i++) {
        const line = complete[i] as string;
        if (line.trim() === '') continue;
        try {
          JSON.parse(line);
        } catch (err) {
          return fail({ line: lineNo + i + 1, reason: (err as Error).message });
        }
      }
      return fail({ line: lineNo + complete.length + 1, reason: 'invalid UTF-8' });
    }
  };
  let carried: Uint8Array = new Uint8Array();
  for await (const chunk of chunks) {
    pending += decode(chunk);
    carried = incompleteTail(chunk.length >= 3 ? chunk : Buffer.concat([carried, chunk]));
    let start = 0;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
      const row = parse(pending.slice(start, nl));
      start = nl + 1;
      if (row !== undefined) yield row;
    }
    pending = pending.slice(start);
  }
  pending += decode();
  const last = parse(pending);
  if (last !== undefined) yield last;
}

/** The trailing bytes of `bytes` that start a UTF-8 sequence not yet complete (what a streaming decoder keeps). */
function incompleteTail(bytes: Uint8Array): Uint8Array {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back] as number;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? bytes.subarray(bytes.length - back) : new Uint8Array();
  }
  return new Uint8Array();
}
