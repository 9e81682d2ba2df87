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
      const text = pending + new TextDecoder('utf-8').decode(chunk ?? new Uint8Array());
      const bad = text.indexOf('\uFFFD', pending.length);
      const before = bad >= 0 ? text.slice(0, bad) : text;
      return fail({ line: lineNo + (before.match(/\n/g)?.length ?? 0) + 1, reason: 'invalid UTF-8' });
    }
  };
  for await (const chunk of chunks) {
    pending += decode(chunk);
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
