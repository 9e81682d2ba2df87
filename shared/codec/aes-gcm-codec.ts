// Payload encryption for Temporal: AES-256-GCM over the whole serialized Payload (metadata + data), so the
// server, its database and anyone reading history see only ciphertext. Encoded payloads carry
//   metadata.encoding            = "binary/encrypted"
//   metadata["encryption-key-id"] = the key id (lets a decoder hold several keys during a rotation)
//   data                          = iv (12 B) ‖ ciphertext ‖ GCM tag (16 B)
// Search attributes are not payload data and stay in the clear (the server must index them).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import * as protoModule from '@temporalio/proto';

// @temporalio/proto is CommonJS: Node's ESM loader (tsx) exposes it only as `default`; bundlers and vitest
// also give the named export. Take whichever exists.
const { temporal } = (protoModule as typeof protoModule & { default?: typeof protoModule }).default ?? protoModule;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const PayloadProto = temporal.api.common.v1.Payload;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A payload cannot be decrypted (unknown key id, wrong key, tampered bytes). Not retryable: the bytes won't change. */
export class PayloadDecryptionError extends Error {
  override name = 'PayloadDecryptionError';
}

export interface PayloadKey {
  /** Written into every encoded payload; chooses the key on decode. */
  id: string;
  /** 32 bytes (AES-256). */
  key: Uint8Array;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** A short, non-secret id for a key: the first 16 hex digits of sha256("durable-rlhf payload key" ‖ key). */
export function defaultKeyId(key: Uint8Array): string {
  return createHash('sha256').update('durable-rlhf payload key').update(key).digest('hex').slice(0, 16);
}

/** AES-256-GCM codec. Encodes with `current`; decodes with any key in `current` + `previous` (rotation). */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys = new Map<string, Uint8Array>();
  readonly keyId: string;
  private readonly current: Uint8Array;

  constructor(current: PayloadKey, previous: PayloadKey[] = []) {
    for (const k of [current, ...previous]) {
      if (k.key.byteLength !== 32) throw new RangeError(`payload key '${k.id}' must be 32 bytes (AES-256), got ${k.key.byteLength}`);
      this.keys.set(k.id, k.key);
    }
    this.keyId = current.id;
    this.current = current.key;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decrypt(payload));
  }

  /** One payload → its encrypted form. */
  encrypt(payload: Payload): Payload {
    const plain = PayloadProto.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv);
    // The key id is authenticated too: a payload moved under another id fails to decrypt.
    cipher.setAAD(textEncoder.encode(this.keyId));
    const body = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { encoding: textEncoder.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: textEncoder.encode(this.keyId) },
      data: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    };
  }

  /** One payload → its plaintext form; payloads that are not encrypted pass through unchanged. */
  decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || textDecoder.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    const id = idBytes ? textDecoder.decode(idBytes) : '';
    const key = this.keys.get(id);
    if (!key) throw new PayloadDecryptionError(`encrypted payload uses key id '${id}', which this process does not hold (set RLHF_PAYLOAD_KEY / RLHF_PAYLOAD_PREVIOUS_KEYS)`);
    const data = payload.data ?? new Uint8Array();
    if (data.byteLength < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`encrypted payload (key id '${id}') is ${data.byteLength} bytes: too short`);
    const iv = data.subarray(0, IV_BYTES);
    const tag = data.subarray(data.byteLength - TAG_BYTES);
    const body = data.subarray(IV_BYTES, data.byteLength - TAG_BYTES);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(textEncoder.encode(id));
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(`encrypted payload (key id '${id}') failed authentication: wrong key or tampered bytes`);
    }
    const decoded = PayloadProto.decode(plain);
    return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() };
  }
}
