// Maps AWS SDK failures to the store's one-line typed errors.
import {
  MissingBucketError,
  ObjectNotFoundError,
  StoreAccessError,
  StoreError,
  StoreUnreachableError,
} from './errors';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const ACCESS_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError', 'XAdminUserNotFound', 'InvalidClientTokenId']);

interface SdkLikeError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  errors?: SdkLikeError[];
  cause?: SdkLikeError;
  $metadata?: { httpStatusCode?: number };
}

function networkCode(err: SdkLikeError | undefined, depth = 0): string | undefined {
  if (!err || depth > 4) return undefined;
  if (err.code && NETWORK_CODES.has(err.code)) return err.code;
  if (err.name === 'TimeoutError') return 'timeout';
  for (const inner of err.errors ?? []) {
    const code = networkCode(inner, depth + 1);
    if (code) return code;
  }
  return networkCode(err.cause, depth + 1);
}

export interface S3ErrorContext {
  endpoint: string;
  bucket: string;
  key?: string;
}

/** Turns an SDK error into a StoreError with one clear line; unknown errors keep their message with context. */
export function toStoreError(raw: unknown, ctx: S3ErrorContext): StoreError {
  if (raw instanceof StoreError) return raw;
  const err = (raw ?? {}) as SdkLikeError;
  const net = networkCode(err);
  if (net) return new StoreUnreachableError(ctx.endpoint, net);
  const name = err.name ?? err.Code ?? '';
  const status = err.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket') return new MissingBucketError(ctx.endpoint, ctx.bucket);
  if (ACCESS_CODES.has(name) || status === 403) return new StoreAccessError(ctx.endpoint, ctx.bucket, name || `HTTP ${status}`);
  if (name === 'NoSuchKey' || ((name === 'NotFound' || status === 404) && ctx.key !== undefined)) {
    return new ObjectNotFoundError(ctx.bucket, ctx.key ?? '');
  }
  if ((name === 'NotFound' || status === 404) && ctx.key === undefined) return new MissingBucketError(ctx.endpoint, ctx.bucket);
  const where = ctx.key !== undefined ? `s3://${ctx.bucket}/${ctx.key}` : `bucket '${ctx.bucket}'`;
  const what = [name, err.message].filter((s) => s && s !== 'UnknownError').join(': ') || String(raw);
  const out = new StoreError(`S3 request for ${where} at ${ctx.endpoint} failed: ${what}`);
  out.cause = raw;
  return out;
}
