// Config resolution picks up TLS/mTLS and API-key settings through @temporalio/envconfig and S3 keys from
// AWS_*, and printing the config in any common way never shows them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../shared/config';
import { REDACTED, scrubSecrets, secretValues } from '../../shared/secrets';

const FAKE = {
  apiKey: 'tmprl-API-KEY-canary-7c1f0e',
  accessKeyId: 'AKIACANARYACCESSKEY9',
  secret: 'canary/secret+S3key-0b5e9a77d1',
  session: 'canary-session-token-55aa',
  clientKey: '-----BEGIN PRIVATE KEY-----\ncanary-private-key-bytes-31d2\n-----END PRIVATE KEY-----\n',
  clientCert: '-----BEGIN CERTIFICATE-----\ncanary-cert\n-----END CERTIFICATE-----\n',
};

const env = {
  TEMPORAL_ADDRESS: 'temporal.example.com:7233',
  TEMPORAL_NAMESPACE: 'ml-platform.acct1',
  TEMPORAL_API_KEY: FAKE.apiKey,
  TEMPORAL_TLS: 'true',
  TEMPORAL_TLS_CLIENT_CERT_DATA: FAKE.clientCert,
  TEMPORAL_TLS_CLIENT_KEY_DATA: FAKE.clientKey,
  TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com',
  S3_ENDPOINT: 'https://s3.example.com',
  AWS_ACCESS_KEY_ID: FAKE.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE.secret,
  AWS_SESSION_TOKEN: FAKE.session,
};

const leaks = (text: string): string[] =>
  [FAKE.apiKey, FAKE.accessKeyId, FAKE.secret, FAKE.session, 'canary-private-key-bytes-31d2'].filter((s) => text.includes(s));

describe('config: TLS, API key and S3 keys', () => {
  it('resolves TEMPORAL_TLS_* and TEMPORAL_API_KEY through envconfig', () => {
    const config = loadConfig(env);
    expect(config.temporal.address).toBe('temporal.example.com:7233');
    expect(config.temporal.namespace).toBe('ml-platform.acct1');
    expect(config.temporal.apiKey).toBe(FAKE.apiKey);
    expect(config.temporal.connectionOptions.apiKey).toBe(FAKE.apiKey);
    const tls = config.temporal.connectionOptions.tls;
    expect(tls).toBeTruthy();
    expect(typeof tls === 'object' && tls !== null).toBe(true);
    const t = tls as { serverNameOverride?: string; clientCertPair?: { crt: Uint8Array; key: Uint8Array } };
    expect(t.serverNameOverride).toBe('temporal.example.com');
    expect(Buffer.from(t.clientCertPair?.key ?? []).toString()).toContain('canary-private-key-bytes-31d2');
    expect(config.s3.credentials).toEqual({ accessKeyId: FAKE.accessKeyId, secretAccessKey: FAKE.secret, sessionToken: FAKE.session });
  });

  it('reads mTLS material from TEMPORAL_TLS_*_PATH files and TEMPORAL_TLS_DISABLE_HOST_VERIFICATION', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlhf-tls-'));
    try {
      writeFileSync(join(dir, 'client.pem'), FAKE.clientCert);
      writeFileSync(join(dir, 'client.key'), FAKE.clientKey);
      writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\ncanary-ca\n-----END CERTIFICATE-----\n');
      const config = loadConfig({
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'client.pem'),
        TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'client.key'),
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'ca.pem'),
      });
      const t = config.temporal.connectionOptions.tls as { clientCertPair?: { crt: Uint8Array; key: Uint8Array }; serverRootCACertificate?: Uint8Array };
      expect(Buffer.from(t.clientCertPair?.crt ?? []).toString()).toContain('canary-cert');
      expect(Buffer.from(t.clientCertPair?.key ?? []).toString()).toContain('canary-private-key-bytes-31d2');
      expect(Buffer.from(t.serverRootCACertificate ?? []).toString()).toContain('canary-ca');
      expect(leaks(`${JSON.stringify(config)} ${inspect(config, { depth: 10 })}`)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an API key alone turns TLS on (Temporal Cloud)', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: FAKE.apiKey });
    expect(config.temporal.connectionOptions.tls).toBeTruthy();
  });

  it('JSON.stringify, String, template strings and util.inspect redact every secret', () => {
    const config = loadConfig(env);
    const printed = [
      JSON.stringify(config),
      JSON.stringify(config, null, 2),
      String(config),
      `${config}`,
      inspect(config, { depth: 10 }),
      JSON.stringify(config.s3),
      String(config.s3.credentials),
      inspect(config.temporal, { depth: 10 }),
      JSON.stringify({ nested: { config } }),
    ];
    for (const text of printed) {
      expect(leaks(text), text.slice(0, 200)).toEqual([]);
      expect(text).toContain(REDACTED);
    }
    // The non-secret parts are still shown.
    expect(JSON.stringify(config)).toContain('temporal.example.com:7233');
    expect(JSON.stringify(config)).toContain('https://s3.example.com');
  });

  it('secretValues lists the secrets and scrubSecrets removes them from text', () => {
    const config = loadConfig(env);
    const secrets = secretValues(config);
    expect(secrets).toEqual(expect.arrayContaining([FAKE.apiKey, FAKE.accessKeyId, FAKE.secret, FAKE.session]));
    const text = `connect failed for ${FAKE.apiKey} with ${FAKE.secret}`;
    expect(leaks(scrubSecrets(text, secrets))).toEqual([]);
  });

  it('config errors never echo a secret', () => {
    const bad: Array<Record<string, string>> = [
      { AWS_ACCESS_KEY_ID: FAKE.accessKeyId },
      { AWS_SECRET_ACCESS_KEY: FAKE.secret },
      { TEMPORAL_API_KEY: FAKE.apiKey, TEMPORAL_ADDRESS: 'not a host' },
      { TEMPORAL_API_KEY: FAKE.apiKey, TEMPORAL_NAMESPACE: '!' },
      { RLHF_PAYLOAD_KEY: FAKE.secret, ...env, S3_BUCKET: 'Bad_Bucket' },
    ];
    for (const e of bad) {
      let message = '';
      try {
        loadConfig(e);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      expect(leaks(message)).toEqual([]);
    }
  });
});
