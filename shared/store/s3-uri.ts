import { StoreUsageError } from './errors';

/** A parsed `s3://bucket/key` URI. `key` has no leading slash and may be '' (the bucket root). */
export interface S3Uri {
  bucket: string;
  key: string;
}

/** Parses `s3://bucket/key/with/slashes`; throws StoreUsageError naming the input when it is not one. */
export function parseS3Uri(uri: string): S3Uri {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri);
  if (!match?.[1]) throw new StoreUsageError(`not an S3 URI: '${uri}' (expected s3://bucket/key)`);
  return { bucket: match[1], key: match[2] ?? '' };
}

/** Formats a bucket and key as `s3://bucket/key`. */
export function formatS3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Normalizes an artifact prefix: no leading or trailing slashes, no empty or dot segments. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') throw new StoreUsageError('artifact prefix must not be empty');
  for (const segment of trimmed.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new StoreUsageError(`invalid artifact prefix '${prefix}' (empty, '.' or '..' segment)`);
    }
  }
  return trimmed;
}

/** Joins a prefix and a relative name with exactly one slash. */
export function joinKey(prefix: string, name: string): string {
  return `${normalizePrefix(prefix)}/${name.replace(/^\/+/, '')}`;
}
