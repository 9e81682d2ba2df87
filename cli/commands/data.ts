// `import`: check a dataset (JSONL or Parquet; local or s3://; plain or chat format), normalize it to the
// recipe's rows, and optionally write it as JSONL to S3 (for data.*Uri options) or to a local file.
import { writeFile } from 'node:fs/promises';
import { loadConfig } from '../../shared/config';
import { ArtifactStore, createS3Client } from '../../shared/store';
import { importDataset, toJsonl, type DatasetKind } from '../../tasks/import';
import type { CommandSpec, ParsedArgs } from '../args';
import type { Io } from '../context';
import { UsageError } from '../errors';

export const importSpec: CommandSpec = {
  name: 'import',
  summary: 'Check and normalize a dataset (prompts, sft or pairs; JSONL/Parquet; local or s3://; text or chat) and optionally upload it as JSONL.',
  usage: 'durable-rlhf import prompts|sft|pairs <file.jsonl|file.parquet|s3://bucket/key> [--to s3://bucket/key.jsonl] [--out FILE] [--limit N]',
  positionals: [2, 2],
  flags: {
    to: { kind: 'string', value: 'S3_URI', help: 'write the normalized rows as JSONL to this S3 object' },
    out: { kind: 'string', value: 'FILE', help: 'write the normalized rows as JSONL to this local file' },
    limit: { kind: 'int', value: 'N', help: 'keep the first N rows' },
  },
  details: 'then start a run on it, e.g.: durable-rlhf start --set data.promptsUri=s3://bucket/prompts.jsonl',
};

/** The recipe option that takes a dataset of this kind. */
export const OPTION_FOR: Record<DatasetKind, string> = { prompts: 'data.promptsUri (or data.evalPromptsUri)', sft: 'data.sftUri', pairs: 'data.preferencesUri' };

function storeFor(bucket: string): ArtifactStore {
  const cfg = loadConfig();
  return new ArtifactStore({ s3: createS3Client(cfg.s3), bucket, endpoint: cfg.s3.endpoint ?? `AWS S3 (${cfg.s3.region})` });
}

function parseTarget(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(uri);
  if (!m?.[1] || !m[2]) throw new UsageError(`--to expects s3://bucket/key, got '${uri}'`);
  return { bucket: m[1], key: m[2] };
}

export async function importCommand(args: ParsedArgs, io: Io): Promise<void> {
  const [kind, source] = args.positionals as [string, string];
  if (kind !== 'prompts' && kind !== 'sft' && kind !== 'pairs') throw new UsageError(`unknown dataset kind '${kind}': expected prompts, sft or pairs`);
  const target = typeof args.flags.to === 'string' ? parseTarget(args.flags.to) : null;
  const rows = await importDataset(kind, source, {
    readS3: (bucket, key) => storeFor(bucket).getBytes(key),
    ...(typeof args.flags.limit === 'number' ? { limit: args.flags.limit } : {}),
  });
  const chat = rows.filter((r) => typeof r.prompt !== 'string').length;
  io.out(`${source}: ${rows.length} ${kind} rows OK${chat > 0 ? ` (${chat} in chat format)` : ''}`);
  const jsonl = toJsonl(rows);
  if (typeof args.flags.out === 'string') {
    await writeFile(args.flags.out, jsonl);
    io.out(`wrote ${args.flags.out}`);
  }
  if (target) {
    const store = storeFor(target.bucket);
    await store.putBytes(target.key, jsonl, 'application/x-ndjson');
    io.out(`uploaded to ${store.uri(target.key)}`);
    io.out(`use it with: --set ${OPTION_FOR[kind].split(' ')[0]}=${store.uri(target.key)}`);
  }
}
