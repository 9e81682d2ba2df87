// Payload encryption from the environment (off unless RLHF_PAYLOAD_KEY is set):
//   RLHF_PAYLOAD_KEY            base64 of 32 random bytes (`openssl rand -base64 32`)
//   RLHF_PAYLOAD_KEY_ID         optional id written into payloads (default: a hash-derived id of the key)
//   RLHF_PAYLOAD_PREVIOUS_KEYS  optional decrypt-only keys during a rotation: "id:base64,id:base64"
// Client and workers must share the key; the Temporal UI decodes through scripts/codec-server.ts.
import type { DataConverter } from '@temporalio/common';
import { ConfigError } from '../config';
import { AesGcmPayloadCodec, defaultKeyId, type PayloadKey } from './aes-gcm-codec';

type Env = Record<string, string | undefined>;

function decodeKey(text: string, variable: string): Uint8Array {
  const trimmed = text.trim();
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : Buffer.alloc(0);
  // Never echo the value: it is the secret.
  if (bytes.byteLength !== 32) throw new ConfigError(variable, `invalid ${variable}: expected base64 of exactly 32 bytes (openssl rand -base64 32), got ${bytes.byteLength} bytes`);
  return new Uint8Array(bytes);
}

function keyId(text: string | undefined, key: Uint8Array, variable: string): string {
  if (text === undefined || text === '') return defaultKeyId(key);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(text)) throw new ConfigError(variable, `invalid ${variable}='${text}': expected 1-64 letters, digits, '.', '_' or '-'`);
  return text;
}

/** The configured key (and rotation keys), or undefined when encryption is off. Throws ConfigError. */
export function payloadKeysFromEnv(env: Env = process.env): { current: PayloadKey; previous: PayloadKey[] } | undefined {
  const raw = env.RLHF_PAYLOAD_KEY;
  if (raw === undefined || raw === '') return undefined;
  const key = decodeKey(raw, 'RLHF_PAYLOAD_KEY');
  const current = { id: keyId(env.RLHF_PAYLOAD_KEY_ID, key, 'RLHF_PAYLOAD_KEY_ID'), key };
  const previous: PayloadKey[] = [];
  for (const item of (env.RLHF_PAYLOAD_PREVIOUS_KEYS ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const colon = item.indexOf(':');
    if (colon <= 0) throw new ConfigError('RLHF_PAYLOAD_PREVIOUS_KEYS', 'invalid RLHF_PAYLOAD_PREVIOUS_KEYS: expected a comma-separated list of id:base64key');
    const k = decodeKey(item.slice(colon + 1), 'RLHF_PAYLOAD_PREVIOUS_KEYS');
    previous.push({ id: keyId(item.slice(0, colon), k, 'RLHF_PAYLOAD_PREVIOUS_KEYS'), key: k });
  }
  return { current, previous };
}

/** The AES-GCM codec for the environment, or undefined when RLHF_PAYLOAD_KEY is unset. */
export function payloadCodecFromEnv(env: Env = process.env): AesGcmPayloadCodec | undefined {
  const keys = payloadKeysFromEnv(env);
  return keys ? new AesGcmPayloadCodec(keys.current, keys.previous) : undefined;
}

/** `dataConverter` option for Client / Worker: the codec when encryption is on, else undefined (SDK default). */
export function dataConverterFromEnv(env: Env = process.env): DataConverter | undefined {
  const codec = payloadCodecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}
