// Codec server for the Temporal Web UI: decodes (and encodes) payloads with the AES-GCM payload codec so
// the UI shows plaintext while the server stores ciphertext. Protocol (Temporal "remote codec"):
//   POST /decode  and  POST /encode   body {"payloads": [{"metadata": {k: base64}, "data": base64}]}
//   → {"payloads": [...]} in the same JSON form. The UI sends an X-Namespace header.
//
//   RLHF_PAYLOAD_KEY=... npx tsx scripts/codec-server.ts [--port 8888] [--ui-origin http://127.0.0.1:8233]
//   temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888
//
// CORS is limited to ONE origin (the UI's; RLHF_CODEC_UI_ORIGIN, default http://127.0.0.1:8233 and its
// localhost twin). With RLHF_CODEC_AUTH_TOKEN set, requests need `Authorization: Bearer <token>`.
// Listens on loopback unless --host says otherwise.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { payloadCodecFromEnv } from '../shared/codec';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Browser origins allowed by CORS (exact match, e.g. 'http://127.0.0.1:8233'). */
  allowedOrigins: string[];
  /** When set, every POST needs `Authorization: Bearer <token>`. */
  authToken?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Largest request body in bytes (default 8 MiB: 2 MB payloads, base64, several per request). */
  maxBodyBytes?: number;
}

export interface RunningCodecServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function fromJson(p: JsonPayload, i: number): Payload {
  if (typeof p !== 'object' || p === null) throw new HttpError(400, `payloads[${i}] must be an object`);
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) {
    if (typeof v !== 'string') throw new HttpError(400, `payloads[${i}].metadata.${k} must be a base64 string`);
    metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  }
  if (p.data !== undefined && typeof p.data !== 'string') throw new HttpError(400, `payloads[${i}].data must be a base64 string`);
  return { metadata, data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')) };
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m?.[1]) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

/** The request handler (exported for tests that mount it themselves). */
export function codecRequestHandler(options: CodecServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const allowed = new Set(options.allowedOrigins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (origin !== undefined && allowed.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') {
      if (origin === undefined || !allowed.has(origin)) return send(403, { error: 'origin not allowed' });
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
      res.writeHead(204);
      res.end();
      return;
    }
    const path = (req.url ?? '').split('?')[0]?.replace(/\/+$/, '');
    if (req.method !== 'POST' || (path !== '/encode' && path !== '/decode')) return send(404, { error: 'POST /encode or /decode' });
    // A browser from another origin gets no CORS headers (so it cannot read the answer) and no work done.
    if (origin !== undefined && !allowed.has(origin)) return send(403, { error: 'origin not allowed' });
    if (options.authToken !== undefined && !tokenMatches(req.headers.authorization, options.authToken)) return send(401, { error: 'missing or wrong bearer token' });
    void (async () => {
      try {
        const text = await readBody(req, maxBody);
        let body: { payloads?: JsonPayload[] };
        try {
          body = JSON.parse(text) as { payloads?: JsonPayload[] };
        } catch {
          throw new HttpError(400, 'body is not JSON');
        }
        if (!Array.isArray(body?.payloads)) throw new HttpError(400, 'body must be {"payloads": [...]}');
        const payloads = body.payloads.map(fromJson);
        const out = path === '/encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
        send(200, { payloads: out.map(toJson) });
      } catch (err) {
        if (err instanceof HttpError) return send(err.status, { error: err.message });
        // Decryption failures: say what, never echo payload bytes or keys.
        send(400, { error: err instanceof Error ? `${err.name}: ${err.message}` : 'codec failed' });
      }
    })();
  };
}

/** Starts the codec server; resolves once it listens. */
export async function startCodecServer(options: CodecServerOptions): Promise<RunningCodecServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer(codecRequestHandler(options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The UI origin and its localhost/127.0.0.1 twin (a browser sends whichever host the user typed). */
export function originsFor(uiOrigin: string): string[] {
  const url = new URL(uiOrigin);
  const out = [url.origin];
  if (url.hostname === '127.0.0.1') out.push(url.origin.replace('127.0.0.1', 'localhost'));
  if (url.hostname === 'localhost') out.push(url.origin.replace('localhost', '127.0.0.1'));
  return out;
}

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const a = argv[i] as string;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}

async function main(argv: string[]): Promise<void> {
  const codec = payloadCodecFromEnv();
  if (!codec) throw new Error('RLHF_PAYLOAD_KEY is not set: the codec server needs the payload key the workers use');
  const port = Number(argValue(argv, '--port') ?? process.env.RLHF_CODEC_PORT ?? 8888);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port: expected 0-65535`);
  const uiOrigin = argValue(argv, '--ui-origin') ?? process.env.RLHF_CODEC_UI_ORIGIN ?? 'http://127.0.0.1:8233';
  const host = argValue(argv, '--host') ?? '127.0.0.1';
  const running = await startCodecServer({ codec, allowedOrigins: originsFor(uiOrigin), host, port, ...(process.env.RLHF_CODEC_AUTH_TOKEN ? { authToken: process.env.RLHF_CODEC_AUTH_TOKEN } : {}) });
  console.log(`codec server ${running.url} (key id ${codec.keyId}) for UI origin ${uiOrigin}${process.env.RLHF_CODEC_AUTH_TOKEN ? ', bearer token required' : ''}`);
  console.log(`start the UI with: temporal server start-dev --ui-codec-endpoint ${running.url}`);
  const stop = (): void => void running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
