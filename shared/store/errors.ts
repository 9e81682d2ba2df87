// Typed errors of the artifact store. Every message is one line that names the key/endpoint involved.

/** Base class of every error the artifact store throws on purpose. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** A reader asked for an artifact whose prefix has no `_manifest.json` (the step never committed). */
export class UncommittedArtifactError extends StoreError {
  override name = 'UncommittedArtifactError';
  constructor(
    readonly bucket: string,
    readonly prefix: string,
    detail = 'no _manifest.json (the step that writes it has not committed)',
  ) {
    super(`artifact s3://${bucket}/${prefix}/ is not committed: ${detail}`);
  }
}

/** An object's bytes differ from what its committed manifest recorded (size or sha256). */
export class ChecksumMismatchError extends StoreError {
  override name = 'ChecksumMismatchError';
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly expected: { size: number; sha256: string },
    readonly actual: { size: number; sha256?: string },
  ) {
    const what =
      expected.size !== actual.size
        ? `size ${actual.size} B, manifest says ${expected.size} B`
        : `sha256 ${actual.sha256 ?? '?'}, manifest says ${expected.sha256}`;
    super(`checksum mismatch for s3://${bucket}/${key}: ${what} (object changed after commit)`);
  }
}

/** A JSONL object has a line that is not valid JSON. Line numbers are 1-based. */
export class MalformedJsonlError extends StoreError {
  override name = 'MalformedJsonlError';
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly line: number,
    reason: string,
  ) {
    super(`malformed JSONL in s3://${bucket}/${key} line ${line}: ${reason}`);
  }
}

/** A committed manifest exists but is not a valid manifest. */
export class MalformedManifestError extends StoreError {
  override name = 'MalformedManifestError';
  constructor(
    readonly bucket: string,
    readonly key: string,
    reason: string,
  ) {
    super(`malformed manifest s3://${bucket}/${key}: ${reason}`);
  }
}

/** The requested object does not exist. */
export class ObjectNotFoundError extends StoreError {
  override name = 'ObjectNotFoundError';
  constructor(
    readonly bucket: string,
    readonly key: string,
  ) {
    super(`S3 object s3://${bucket}/${key} not found`);
  }
}

/** The S3 endpoint cannot be reached (connection refused, DNS failure, timeout). */
export class StoreUnreachableError extends StoreError {
  override name = 'StoreUnreachableError';
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`S3 endpoint ${endpoint} unreachable (${reason}); start it with \`npm run stack -- up\` or set S3_ENDPOINT`);
  }
}

/** The S3 endpoint rejected the credentials (unknown key, bad signature, access denied). */
export class StoreAccessError extends StoreError {
  override name = 'StoreAccessError';
  constructor(
    readonly endpoint: string,
    readonly bucket: string,
    readonly code: string,
  ) {
    super(
      `S3 endpoint ${endpoint} rejected the credentials for bucket '${bucket}' (${code}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY`,
    );
  }
}

/** The bucket does not exist on the endpoint. */
export class MissingBucketError extends StoreError {
  override name = 'MissingBucketError';
  constructor(
    readonly endpoint: string,
    readonly bucket: string,
  ) {
    super(`S3 bucket '${bucket}' does not exist at ${endpoint}; create it (\`npm run stack -- up\` does) or set S3_BUCKET`);
  }
}

/** Invalid argument to a store method (bad key, bad URI, entry outside its prefix). */
export class StoreUsageError extends StoreError {
  override name = 'StoreUsageError';
}
