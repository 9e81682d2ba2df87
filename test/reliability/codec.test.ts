// AES-256-GCM payload codec (shared/codec) and the codec server (scripts/codec-server.ts): round trips,
// tamper/wrong-key failures, key rotation, CORS limited to the UI origin, bearer-token auth.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadDecryptionError, dataConverterFromEnv, payloadCodecFromEnv } from '../../shared/codec';
import { ConfigError } from '../../shared/config';
import { startCodecServer, type RunningCodecServer } from '../../scripts/codec-server';

const key = (): Uint8Array => new Uint8Array(randomBytes(32));
const text = (p: Payload): string => Buffer.from(p.data ?? []).toString('utf8');
const PLAINTEXT = 'plaintext-canary s3://bucket/runs/secret-run/model';

describe('AesGcmPayloadCodec', () => {
  const codec = new AesGcmPayloadCodec({ id: 'k1', key: key() });

  it('round-trips any JSON value and hides the plaintext', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const payload = defaultPayloadConverter.toPayload(value);
        const [enc] = await codec.encode([payload]);
        expect(Buffer.from(enc!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
        expect(Buffer.from(enc!.metadata![KEY_ID_METADATA]!).toString()).toBe('k1');
        const [dec] = await codec.decode([enc!]);
        expect(defaultPayloadConverter.fromPayload(dec!)).toEqual(value);
      }),
      { numRuns: 100 },
    );
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ uri: PLAINTEXT })]);
    expect(text(enc!)).not.toContain('plaintext-canary');
    expect(JSON.stringify(enc!.metadata)).not.toContain('json/plain');
  });

  it('uses a fresh IV per payload', async () => {
    const p = defaultPayloadConverter.toPayload('same');
    const [a, b] = await codec.encode([p, p]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('passes unencrypted payloads through on decode', async () => {
    const p = defaultPayloadConverter.toPayload({ a: 1 });
    expect(await codec.decode([p])).toEqual([p]);
  });

  it('rejects tampered bytes, a wrong key and an unknown key id with PayloadDecryptionError', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(PLAINTEXT)]);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: enc!.data!.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), async (i, x) => {
        const data = new Uint8Array(enc!.data!);
        data[i]! ^= x;
        await expect(codec.decode([{ ...enc!, data }])).rejects.toBeInstanceOf(PayloadDecryptionError);
      }),
      { numRuns: 50 },
    );
    await expect(new AesGcmPayloadCodec({ id: 'k1', key: key() }).decode([enc!])).rejects.toThrow(/failed authentication/);
    await expect(new AesGcmPayloadCodec({ id: 'k2', key: key() }).decode([enc!])).rejects.toThrow(/key id 'k1'/);
    await expect(codec.decode([{ ...enc!, data: new Uint8Array(5) }])).rejects.toThrow(/too short/);
    // Moving a payload under another key id fails even if that id maps to the same key material.
    const k = key();
    const two = new AesGcmPayloadCodec({ id: 'a', key: k }, [{ id: 'b', key: k }]);
    const [e2] = await two.encode([defaultPayloadConverter.toPayload(1)]);
    const relabelled = { ...e2!, metadata: { ...e2!.metadata, [KEY_ID_METADATA]: Buffer.from('b') } };
    await expect(two.decode([relabelled])).rejects.toBeInstanceOf(PayloadDecryptionError);
  });

  it('decodes payloads of a previous key during a rotation', async () => {
    const old = { id: 'old', key: key() };
    const [enc] = await new AesGcmPayloadCodec(old).encode([defaultPayloadConverter.toPayload('x')]);
    const rotated = new AesGcmPayloadCodec({ id: 'new', key: key() }, [old]);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([enc!]))[0]!)).toBe('x');
  });
});

describe('payload key from the environment', () => {
  it('is off without RLHF_PAYLOAD_KEY', () => {
    expect(payloadCodecFromEnv({})).toBeUndefined();
    expect(dataConverterFromEnv({})).toBeUndefined();
  });

  it('reads a base64 32-byte key, a key id and previous keys', () => {
    const k = Buffer.from(key()).toString('base64');
    const c = payloadCodecFromEnv({ RLHF_PAYLOAD_KEY: k, RLHF_PAYLOAD_KEY_ID: 'prod-2026-11', RLHF_PAYLOAD_PREVIOUS_KEYS: `prod-2026-10:${Buffer.from(key()).toString('base64')}` });
    expect(c?.keyId).toBe('prod-2026-11');
    expect(payloadCodecFromEnv({ RLHF_PAYLOAD_KEY: k })?.keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('rejects bad keys with a ConfigError that does not echo the key', () => {
    for (const bad of ['short', Buffer.from(randomBytes(16)).toString('base64'), 'not base64 !!!', `${Buffer.from(randomBytes(32)).toString('base64')}xx`]) {
      let err: unknown;
      try {
        payloadCodecFromEnv({ RLHF_PAYLOAD_KEY: bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/RLHF_PAYLOAD_KEY.*32 bytes/);
      expect((err as Error).message).not.toContain(bad);
    }
    expect(() => payloadCodecFromEnv({ RLHF_PAYLOAD_KEY: Buffer.from(key()).toString('base64'), RLHF_PAYLOAD_KEY_ID: 'bad id' })).toThrow(ConfigError);
    expect(() => payloadCodecFromEnv({ RLHF_PAYLOAD_KEY: Buffer.from(key()).toString('base64'), RLHF_PAYLOAD_PREVIOUS_KEYS: 'nocolon' })).toThrow(ConfigError);
  });
});

describe('codec server', () => {
  const UI = 'http://127.0.0.1:18233';
  const codec = new AesGcmPayloadCodec({ id: 'k1', key: key() });
  let server: RunningCodecServer;
  let authed: RunningCodecServer;
  beforeAll(async () => {
    server = await startCodecServer({ codec, allowedOrigins: [UI] });
    authed = await startCodecServer({ codec, allowedOrigins: [UI], authToken: 'tok-123' });
  });
  afterAll(async () => {
    await server?.close();
    await authed?.close();
  });

  const asJson = (p: Payload) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(p.data ?? []).toString('base64') });
  const post = (base: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('decodes what the codec encoded and encodes what it decodes (Temporal remote-codec JSON)', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ uri: PLAINTEXT })]);
    const res = await post(server.url, '/decode', { payloads: [asJson(enc!)] }, { Origin: UI });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    const body = (await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    expect(Buffer.from(body.payloads[0]!.data, 'base64').toString()).toContain('plaintext-canary');
    expect(Buffer.from(body.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    const back = await post(server.url, '/encode', body);
    const encoded = (await back.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    expect(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
  });

  it('answers the CORS preflight for the UI origin only', async () => {
    const ok = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: UI, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(UI);
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);
    const evil = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(PLAINTEXT)]);
    const res = await post(server.url, '/decode', { payloads: [asJson(enc!)] }, { Origin: 'http://evil.example' });
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain('plaintext-canary');
  });

  it('requires the bearer token when one is configured', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(PLAINTEXT)]);
    expect((await post(authed.url, '/decode', { payloads: [asJson(enc!)] })).status).toBe(401);
    expect((await post(authed.url, '/decode', { payloads: [asJson(enc!)] }, { Authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(authed.url, '/decode', { payloads: [asJson(enc!)] }, { Authorization: 'Bearer tok-123' })).status).toBe(200);
  });

  it('answers bad requests with 4xx and a one-line error', async () => {
    expect((await post(server.url, '/decode', 'not json')).status).toBe(400);
    expect((await post(server.url, '/decode', { nope: 1 })).status).toBe(400);
    expect((await post(server.url, '/decode', { payloads: [{ metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING).toString('base64') }, data: 'AAAA' }] })).status).toBe(400);
    expect((await fetch(`${server.url}/other`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${server.url}/decode`)).status).toBe(404);
  });
});
