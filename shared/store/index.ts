// The artifact store (S3) and its commit protocol. See artifact-store.ts for the API.
export { ArtifactStore, createS3Client, type ArtifactStoreOptions, type CommitEntry, type ReadVerifyOptions, type StoredObject } from './artifact-store';
export * from './errors';
export { canonicalJson, MANIFEST_NAME, MANIFEST_VERSION, type Manifest, type ManifestEntry } from './manifest';
export { formatS3Uri, joinKey, normalizePrefix, parseS3Uri, type S3Uri } from './s3-uri';
export { sha256Hex } from './hashing';
