// Resumable work inside one shard: rows are produced in chunks; each chunk is written to
// `<prefix>/partial/chunk-NNNNNN.jsonl` (never part of a commit) and its key, size and sha256 are
// heartbeated. A retried attempt reads the chunks named in the last heartbeat (verified) and continues
// after them. The caller writes the shard object and commits; then the partial chunks are deleted.
import type { StoredObject } from '../shared/store';
import { heartbeat, resumeDetails, type Deps } from './support';

export interface ChunkProgress {
  done: number;
  total: number;
  chunks: StoredObject[];
}

function validResume(d: unknown, prefix: string, total: number): d is ChunkProgress {
  const p = d as Partial<ChunkProgress> | undefined;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.done === 'number' &&
    p.total === total &&
    Array.isArray(p.chunks) &&
    p.chunks.every((c) => typeof c?.key === 'string' && c.key.startsWith(`${prefix}/partial/`) && typeof c.size === 'number' && typeof c.sha256 === 'string')
  );
}

export async function inChunks<R>(
  deps: Deps,
  prefix: string,
  total: number,
  chunkSize: number,
  work: (start: number, end: number) => Promise<R[]>,
): Promise<R[]> {
  const rows: R[] = [];
  const chunks: StoredObject[] = [];
  let done = 0;
  const previous = resumeDetails<ChunkProgress>();
  if (validResume(previous, prefix, total)) {
    try {
      const resumed: R[] = [];
      for (const c of previous.chunks) {
        const text = (await deps.store.getBytes(c.key, { expect: c })).toString('utf8');
        for (const line of text.split('\n')) if (line.trim() !== '') resumed.push(JSON.parse(line) as R);
      }
      if (resumed.length === previous.done) {
        rows.push(...resumed);
        chunks.push(...previous.chunks);
        done = previous.done;
      }
    } catch {
      // a chunk vanished or changed: redo the shard from the start (outputs are seeded, so identical)
    }
  }
  for (let start = done; start < total; start += chunkSize) {
    const end = Math.min(total, start + chunkSize);
    const out = await work(start, end);
    const obj = await deps.store.writeJsonl(`${prefix}/partial/chunk-${String(start).padStart(6, '0')}.jsonl`, out);
    rows.push(...out);
    chunks.push({ key: obj.key, size: obj.size, sha256: obj.sha256 });
    heartbeat({ done: end, total, chunks: [...chunks], key: obj.key } satisfies ChunkProgress & { key: string });
  }
  return rows;
}

/** Best-effort removal of the partial chunks after the shard committed. */
export async function dropPartials(deps: Deps, prefix: string): Promise<void> {
  await deps.store.deletePrefix(`${prefix}/partial`).catch(() => undefined);
}
