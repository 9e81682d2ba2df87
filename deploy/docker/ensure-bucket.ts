// Creates the configured bucket if it is missing (S3_ENDPOINT, S3_BUCKET, S3_REGION, AWS_* from the
// environment, as the workers read them), retrying while the S3 server starts. The compose stack runs it
// once as the `create-bucket` service before the workers start; on AWS or R2 create the bucket yourself.
//
//   node --import tsx deploy/docker/ensure-bucket.ts          (in the worker image)
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../shared/config';
import { ArtifactStore, StoreUnreachableError } from '../../shared/store';

/** Ensures the bucket exists; retries only while the endpoint is unreachable, up to `timeoutMs`. */
export async function ensureBucketWithRetry(store: ArtifactStore, timeoutMs: number, intervalMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await store.ensureBucket();
      return;
    } catch (err) {
      if (!(err instanceof StoreUnreachableError) || Date.now() + intervalMs > deadline) throw err;
      await sleep(intervalMs);
    }
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const timeoutSeconds = Number(process.env.RLHF_BUCKET_WAIT_SECONDS ?? '60');
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) {
    throw new Error(`invalid RLHF_BUCKET_WAIT_SECONDS='${process.env.RLHF_BUCKET_WAIT_SECONDS}': expected a number of seconds`);
  }
  const store = ArtifactStore.fromConfig(config);
  await ensureBucketWithRetry(store, timeoutSeconds * 1000);
  console.log(`bucket ready: s3://${config.s3.bucket} at ${config.s3.endpoint ?? `AWS S3 (${config.s3.region})`}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
