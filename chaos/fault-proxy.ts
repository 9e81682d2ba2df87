// A fault-injecting HTTP proxy between the artifact store and the S3 server (loopback only). Requests pass
// through untouched until a fault is armed; then the next `count` requests get it:
//   slowdown  503 SlowDown with an S3 XML error body (the SDK's throttling retry path)
//   timeout   the request is held without an answer for `holdMs`, then its socket is destroyed
//   reset     the socket is destroyed: before any answer, or half-way through the response body
// When the upstream is down (S3 server restarting) the client sees a reset, as with a real outage.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type S3FaultKind = 'slowdown' | 'timeout' | 'reset';

export interface FaultProxyStats {
  requests: number;
  injected: Record<S3FaultKind, number>;
  upstreamErrors: number;
}

export interface FaultProxy {
  url: string;
  stats: FaultProxyStats;
  /** The next `count` requests get `kind`. */
  arm(kind: S3FaultKind, count: number): void;
  /** Requests still to be faulted. */
  armed(): number;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** http://127.0.0.1:port of the S3 server. */
  upstream: string;
  /** How long a 'timeout' fault holds a request before dropping it (default 20 s). */
  holdMs?: number;
  /** A number in [0, 1) (seeded by the caller) choosing reset-before vs reset-during-body. */
  random?: () => number;
  /** Sees every request (method, url, headers) before it is forwarded or faulted (tests record headers). */
  onRequest?: (req: IncomingMessage) => void;
}

const SLOWDOWN_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate. (injected by chaos/fault-proxy)</Message></Error>';

function assertLoopback(url: URL): void {
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error(`fault proxy upstream must be a loopback address, got ${url.hostname}`);
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  assertLoopback(upstream);
  const holdMs = options.holdMs ?? 20_000;
  const random = options.random ?? Math.random;
  const queue: S3FaultKind[] = [];
  const stats: FaultProxyStats = { requests: 0, injected: { slowdown: 0, timeout: 0, reset: 0 }, upstreamErrors: 0 };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const forward = (req: IncomingMessage, res: ServerResponse, resetMidBody: boolean): void => {
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!resetMidBody) {
          up.pipe(res);
          return;
        }
        // Send part of the body, then drop the connection.
        const length = Number(up.headers['content-length'] ?? 0);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent + chunk.byteLength >= Math.max(1, Math.floor(length / 2))) {
            const keep = Math.max(0, Math.floor(length / 2) - sent);
            if (keep > 0) res.write(chunk.subarray(0, keep));
            up.destroy();
            req.socket.destroy();
            return;
          }
          sent += chunk.byteLength;
          res.write(chunk);
        });
        up.on('end', () => req.socket.destroy());
      },
    );
    out.on('error', () => {
      stats.upstreamErrors += 1;
      req.socket.destroy();
    });
    req.pipe(out);
  };

  const server: Server = createServer((req, res) => {
    stats.requests += 1;
    options.onRequest?.(req);
    const fault = queue.shift();
    if (fault === undefined) return forward(req, res, false);
    stats.injected[fault] += 1;
    if (fault === 'slowdown') {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/xml', 'Retry-After': '1' });
      res.end(SLOWDOWN_XML);
      return;
    }
    if (fault === 'timeout') {
      req.resume();
      const t = setTimeout(() => {
        timers.delete(t);
        req.socket.destroy();
      }, holdMs);
      timers.add(t);
      return;
    }
    // reset: before any answer, or during the response body (GETs of non-empty objects)
    if (req.method === 'GET' && random() < 0.5) return forward(req, res, true);
    req.resume();
    req.socket.destroy();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    arm(kind, count) {
      for (let i = 0; i < count; i++) queue.push(kind);
    },
    armed: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
