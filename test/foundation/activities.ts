// Activities of the foundation test workflows, written like the project's: deterministic prefix, skip when
// committed, write, commit last.
import { Context } from '@temporalio/activity';
import type { ArtifactStore } from '../../shared/store';

export interface FoundationActivities {
  writeAndCommit(input: { prefix: string; rows: number }): Promise<string>;
  readCommitted(input: { prefix: string }): Promise<{ rows: number; sum: number }>;
  slow(input: { ms: number }): Promise<string>;
}

export function createFoundationActivities(store: ArtifactStore, calls: string[] = []): FoundationActivities {
  return {
    async slow({ ms }) {
      calls.push('slow started');
      const signal = Context.current().cancellationSignal;
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (signal.aborted) {
          calls.push('slow cancelled');
          throw new Error('cancelled');
        }
        Context.current().heartbeat();
        await new Promise((r) => setTimeout(r, 50));
      }
      calls.push('slow finished');
      return 'done';
    },
    async writeAndCommit({ prefix, rows }) {
      calls.push(`writeAndCommit ${prefix}`);
      if (await store.isCommitted(prefix)) return prefix;
      const data = Array.from({ length: rows }, (_, i) => ({ i, square: i * i }));
      const written = await store.writeJsonl(`${prefix}/rows.jsonl`, data);
      await store.commit(prefix, [written], { rows: written.rows });
      return prefix;
    },
    async readCommitted({ prefix }) {
      let rows = 0;
      let sum = 0;
      for await (const row of store.readCommittedJsonl<{ square: number }>(prefix, 'rows.jsonl')) {
        rows += 1;
        sum += row.square;
      }
      return { rows, sum };
    },
  };
}
