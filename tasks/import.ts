// Data import: prompts, SFT demonstrations and preference pairs from JSONL or Parquet, from a local path or
// s3://bucket/key, in plain-text or chat (`messages`) format → the normalized rows of recipe.md.
// Every malformed row is reported as ONE line naming the file and line (JSONL) or row (Parquet).
import { readFile } from 'node:fs/promises';
import { parquetReadObjects } from 'hyparquet';
import type { ChatMessage, Prompt } from '../engine/api';
import type { PreferencePairRow, PromptRow, SftDemoRow } from './types';

export type DatasetKind = 'prompts' | 'sft' | 'pairs';
export type DatasetFormat = 'jsonl' | 'parquet';

/** A dataset row or file is malformed. `location` is `file:line` (JSONL) or `file row N` (Parquet). */
export class DataImportError extends Error {
  override name = 'DataImportError';
  constructor(
    readonly location: string,
    reason: string,
  ) {
    super(`${location}: ${reason}`);
  }
}

/** Reads `s3://bucket/key` objects; the CLI and activities pass one backed by the artifact store. */
export type S3Reader = (bucket: string, key: string) => Promise<Uint8Array>;

export interface ImportOptions {
  /** Needed for s3:// sources. */
  readS3?: S3Reader;
  /** Default: from the file extension (.jsonl/.json/.ndjson → jsonl, .parquet → parquet). */
  format?: DatasetFormat;
  /** Stop after this many rows. */
  limit?: number;
}

export function formatOf(source: string): DatasetFormat {
  const path = source.replace(/[?#].*$/, '').toLowerCase();
  if (path.endsWith('.parquet')) return 'parquet';
  if (path.endsWith('.jsonl') || path.endsWith('.ndjson') || path.endsWith('.json')) return 'jsonl';
  throw new DataImportError(source, 'unknown dataset format: expected a .jsonl or .parquet file');
}

async function readSource(source: string, opts: ImportOptions): Promise<Uint8Array> {
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(source);
  if (source.startsWith('s3://')) {
    if (!s3?.[1] || !s3[2]) throw new DataImportError(source, 'not an S3 object URI (expected s3://bucket/key)');
    if (!opts.readS3) throw new DataImportError(source, 'no S3 reader configured for s3:// sources');
    return opts.readS3(s3[1], s3[2]);
  }
  try {
    return new Uint8Array(await readFile(source));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataImportError(source, code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? (err as Error).message})`);
  }
}

/** UTF-8 text of a JSONL file; invalid bytes fail with the line they are on (never silently replaced). */
function decodeUtf8(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== 0x0a) continue;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, i));
      } catch {
        throw new DataImportError(`${source}:${line}`, 'invalid UTF-8');
      }
      line += 1;
      start = i + 1;
    }
    throw new DataImportError(source, 'invalid UTF-8');
  }
}

/** Raw records with their location, from JSONL text (blank lines skipped). */
export function parseJsonl(text: string, source: string): { location: string; record: unknown }[] {
  const out: { location: string; record: unknown }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const location = `${source}:${i + 1}`;
    try {
      out.push({ location, record: JSON.parse(line) });
    } catch (err) {
      throw new DataImportError(location, `invalid JSON (${(err as Error).message})`);
    }
  }
  return out;
}

async function parseParquet(bytes: Uint8Array, source: string): Promise<{ location: string; record: unknown }[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file });
  } catch (err) {
    throw new DataImportError(source, `cannot read Parquet (${(err as Error).message})`);
  }
  return rows.map((record, i) => ({ location: `${source} row ${i + 1}`, record }));
}

// ---- normalization ----------------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function toMessages(value: unknown, field: string, location: string): ChatMessage[] {
  // Parquet JSON columns and some exports keep messages as a JSON string.
  if (typeof value === 'string' && value.trimStart().startsWith('[')) {
    try {
      value = JSON.parse(value);
    } catch {
      throw new DataImportError(location, `"${field}" is a string that is not a JSON list of messages`);
    }
  }
  if (!Array.isArray(value) || value.length === 0) throw new DataImportError(location, `"${field}" must be a non-empty list of {"role","content"} messages`);
  return value.map((m, i) => {
    if (!isObject(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new DataImportError(location, `"${field}[${i}]" must be {"role": string, "content": string}`);
    }
    return { role: m.role, content: m.content };
  });
}

/** The prompt of a record: "prompt" (text or messages), else "messages"/"context_messages" up to the last user turn. */
function promptOf(record: Record<string, unknown>, location: string, keys: string): Prompt {
  const p = record.prompt;
  if (typeof p === 'string') {
    if (p === '') throw new DataImportError(location, '"prompt" is empty');
    return p;
  }
  if (p !== undefined && p !== null) return toMessages(p, 'prompt', location);
  for (const field of ['messages', 'context_messages'] as const) {
    const v = record[field];
    if (v === undefined || v === null) continue;
    const messages = toMessages(v, field, location);
    const lastUser = messages.map((m) => m.role).lastIndexOf('user');
    if (lastUser < 0) throw new DataImportError(location, `"${field}" has no user message`);
    return messages.slice(0, lastUser + 1);
  }
  throw new DataImportError(location, `missing prompt: expected ${keys}`);
}

function textField(record: Record<string, unknown>, field: string, location: string): string {
  const v = record[field];
  if (typeof v !== 'string') throw new DataImportError(location, `"${field}" must be a string${v === undefined ? ' (missing)' : ''}`);
  return v;
}

export function normalizePromptRecord(record: unknown, location: string): PromptRow {
  if (!isObject(record)) throw new DataImportError(location, 'row must be a JSON object');
  return { prompt: promptOf(record, location, '"prompt" or "messages"/"context_messages"') };
}

export function normalizeSftRecord(record: unknown, location: string): SftDemoRow {
  if (!isObject(record)) throw new DataImportError(location, 'row must be a JSON object');
  if (record.prompt === undefined && record.messages !== undefined) {
    const messages = toMessages(record.messages, 'messages', location);
    const last = messages[messages.length - 1] as ChatMessage;
    if (last.role !== 'assistant' || messages.length < 2) {
      throw new DataImportError(location, '"messages" must end with an assistant turn after at least one prompt turn');
    }
    return { prompt: messages.slice(0, -1), response: last.content };
  }
  return { prompt: promptOf(record, location, '"prompt" (with "response") or "messages"'), response: textField(record, 'response', location) };
}

/** A string that holds a JSON list of chat messages (Parquet JSON columns), not plain text that starts with '['. */
function looksLikeMessages(text: string): boolean {
  if (!text.trimStart().startsWith('[')) return false;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.length > 0 && v.every((m) => isObject(m) && typeof m.role === 'string');
  } catch {
    return false;
  }
}

/** A completion: text, or a message list whose last turn is the assistant's (TRL conversational format). */
function completionOf(value: unknown, field: string, location: string): { text: string; context?: ChatMessage[] } {
  if (typeof value === 'string' && !looksLikeMessages(value)) return { text: value };
  if (value === undefined || value === null) throw new DataImportError(location, `"${field}" is missing`);
  const messages = toMessages(value, field, location);
  const last = messages[messages.length - 1] as ChatMessage;
  if (last.role !== 'assistant') throw new DataImportError(location, `"${field}" must end with an assistant message`);
  return { text: last.content, context: messages.slice(0, -1) };
}

export function normalizePairRecord(record: unknown, location: string): PreferencePairRow {
  if (!isObject(record)) throw new DataImportError(location, 'row must be a JSON object');
  const chosen = completionOf(record.chosen, 'chosen', location);
  const rejected = completionOf(record.rejected, 'rejected', location);
  let prompt: Prompt;
  if (record.prompt !== undefined || record.messages !== undefined || record.context_messages !== undefined) {
    prompt = promptOf(record, location, '"prompt"');
  } else if (chosen.context && chosen.context.length > 0) {
    // Implicit prompt (e.g. HH-RLHF style): chosen and rejected are whole conversations with a shared context.
    if (JSON.stringify(chosen.context) !== JSON.stringify(rejected.context ?? [])) {
      throw new DataImportError(location, 'no "prompt" and "chosen"/"rejected" conversations differ before the last turn');
    }
    prompt = chosen.context;
  } else {
    throw new DataImportError(location, 'missing prompt: expected "prompt" or chat-format "chosen"/"rejected"');
  }
  if (chosen.text === rejected.text) throw new DataImportError(location, '"chosen" and "rejected" are identical');
  return { prompt, chosen: chosen.text, rejected: rejected.text };
}

const normalizers = {
  prompts: normalizePromptRecord,
  sft: normalizeSftRecord,
  pairs: normalizePairRecord,
} as const;

interface RowOf {
  prompts: PromptRow;
  sft: SftDemoRow;
  pairs: PreferencePairRow;
}

/** Reads and normalizes a dataset file. Throws DataImportError naming the file and line/row of the first bad row. */
export async function importDataset<K extends DatasetKind>(kind: K, source: string, opts: ImportOptions = {}): Promise<RowOf[K][]> {
  const format = opts.format ?? formatOf(source);
  const bytes = await readSource(source, opts);
  const records = format === 'parquet' ? await parseParquet(bytes, source) : parseJsonl(decodeUtf8(bytes, source), source);
  const limited = opts.limit === undefined ? records : records.slice(0, opts.limit);
  if (limited.length === 0) throw new DataImportError(source, 'dataset has no rows');
  const normalize = normalizers[kind] as (record: unknown, location: string) => RowOf[K];
  return limited.map(({ record, location }) => normalize(record, location));
}

export const importPrompts = (source: string, opts?: ImportOptions): Promise<PromptRow[]> => importDataset('prompts', source, opts);
export const importSftRows = (source: string, opts?: ImportOptions): Promise<SftDemoRow[]> => importDataset('sft', source, opts);
export const importPairs = (source: string, opts?: ImportOptions): Promise<PreferencePairRow[]> => importDataset('pairs', source, opts);

/** Normalized rows as JSONL (one JSON object per line, trailing newline). */
export function toJsonl(rows: readonly object[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : '');
}
