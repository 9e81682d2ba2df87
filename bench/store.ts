// Artifact-store throughput vs the raw SDK on the same server, same client, same file, same run.
//   PUT: store.putFile (multipart + sha256) vs one PutObject streaming the file
//   GET: store.getCommittedFile (streamed, sha256-verified, temp file + rename) vs GetObject piped to a file
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ArtifactStore } from '../shared/store';
import type { BenchContext } from './run';

const MB = 1024 * 1024;

async function writeDeterministicFile(path: string, bytes: number): Promise<void> {
  let x = 0x9e3779b9;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let done = 0; done < bytes; done += 4 * MB) {
      const chunk = Buffer.allocUnsafe(Math.min(4 * MB, bytes - done));
      for (let i = 0; i + 4 <= chunk.length; i += 4) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        chunk.writeUInt32LE(x, i);
      }
      yield chunk;
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const store = ctx.store;
  if (!store) throw new Error('the store suite needs the S3 stack');
  const sizeMB = Number(process.env.BENCH_STORE_MB ?? 256);
  const repeats = Number(process.env.BENCH_STORE_REPEATS ?? 5);
  const bytes = sizeMB * MB;
  const dir = await mkdtemp(join(tmpdir(), 'bench-store-'));
  const source = join(dir, 'source.bin');
  const prefix = `bench/store-${process.pid}`;
  try {
    ctx.log(`writing a ${sizeMB} MB source file`);
    await writeDeterministicFile(source, bytes);
    const times = { rawPut: [] as number[], storePut: [] as number[], multipartPut: [] as number[], rawGet: [] as number[], storeGet: [] as number[] };
    // The same store forced onto multipart upload (what files above S3_MULTIPART_THRESHOLD_MB get).
    const multipart = new ArtifactStore({ s3: store.s3, bucket: store.bucket, partSize: store.partSize, queueSize: store.queueSize, multipartThreshold: store.partSize });
    for (let r = 0; r < repeats; r++) {
      // Alternate the order so neither path always runs on a warmer page cache.
      const rawFirst = r % 2 === 0;
      const rawPut = () =>
        timed(() =>
          store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: `${prefix}/raw.bin`, Body: createReadStream(source, { highWaterMark: MB }), ContentLength: bytes })),
        );
      const storePut = () => timed(async () => store.commit(prefix, [await store.putFile(`${prefix}/store.bin`, source)]));
      const multipartPut = () => timed(async () => multipart.commit(`${prefix}-mp`, [await multipart.putFile(`${prefix}-mp/store.bin`, source)]));
      if (rawFirst) {
        times.rawPut.push(await rawPut());
        times.storePut.push(await storePut());
        times.multipartPut.push(await multipartPut());
      } else {
        times.multipartPut.push(await multipartPut());
        times.storePut.push(await storePut());
        times.rawPut.push(await rawPut());
      }
      const rawGet = () =>
        timed(async () => {
          const out = await store.s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: `${prefix}/raw.bin` }));
          await pipeline(out.Body as Readable, createWriteStream(join(dir, 'raw.out'), { highWaterMark: MB }));
        });
      const storeGet = () => timed(() => store.getCommittedFile(prefix, 'store.bin', join(dir, 'store.out')));
      if (rawFirst) {
        times.rawGet.push(await rawGet());
        times.storeGet.push(await storeGet());
      } else {
        times.storeGet.push(await storeGet());
        times.rawGet.push(await rawGet());
      }
      if ((await stat(join(dir, 'store.out'))).size !== bytes) throw new Error('store GET returned a wrong size');
      ctx.log(`round ${r + 1}/${repeats}: put raw ${(sizeMB / times.rawPut[r]!).toFixed(0)} MB/s store ${(sizeMB / times.storePut[r]!).toFixed(0)} MB/s multipart ${(sizeMB / times.multipartPut[r]!).toFixed(0)} MB/s; get raw ${(sizeMB / times.rawGet[r]!).toFixed(0)} MB/s store ${(sizeMB / times.storeGet[r]!).toFixed(0)} MB/s`);
    }
    const mbps = (xs: number[]) => Number((sizeMB / median(xs)).toFixed(1));
    // The box is shared, so load drifts: the ratio is the median of per-round ratios (each round runs the
    // two paths back to back), which is steadier than a ratio of medians.
    const pairedRatio = (raw: number[], ours: number[]) => Number(median(raw.map((t, i) => t / (ours[i] as number))).toFixed(3));
    const put = { rawMBps: mbps(times.rawPut), storeMBps: mbps(times.storePut), ratio: pairedRatio(times.rawPut, times.storePut) };
    const putMultipart = { rawMBps: mbps(times.rawPut), storeMBps: mbps(times.multipartPut), ratio: pairedRatio(times.rawPut, times.multipartPut) };
    const get = { rawMBps: mbps(times.rawGet), storeMBps: mbps(times.storeGet), ratio: pairedRatio(times.rawGet, times.storeGet) };
    return {
      objectMB: sizeMB,
      repeats,
      statistic: 'median',
      partSizeMB: store.partSize / MB,
      uploadConcurrency: store.queueSize,
      endpoint: ctx.stack?.s3Endpoint,
      multipartThresholdMB: store.multipartThreshold / MB,
      put,
      putMultipart,
      get,
      loadAverage: Number(loadavg()[0]?.toFixed(2)),
      goal: 'ratio >= 0.8 (store includes sha256 of every byte, multipart, commit manifest / verification)',
      node: process.version,
    };
  } finally {
    await store.deletePrefix(prefix).catch(() => 0);
    await store.deletePrefix(`${prefix}-mp`).catch(() => 0);
    await rm(dir, { recursive: true, force: true });
  }
}
