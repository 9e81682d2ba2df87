// sha256 of a file computed on a worker thread while the main thread is still writing it: the downloader
// writes the response body to disk exactly as a plain GetObject → file copy would, and publishes how many
// bytes have landed; the worker reads those bytes back (from the page cache) and hashes them on another core.
// No chunk crosses the thread boundary and the main thread does no hashing, so a verified download costs
// about what an unverified one does, plus hashing the last chunk.
//
// Shared state (BigInt64Array over a SharedArrayBuffer): [WRITTEN] bytes on disk, [STATE] 0 running /
// 1 done / −1 aborted, [SEQ] bumped on every change (the worker waits on it).
import { WriteStream } from 'node:fs';
import { Worker } from 'node:worker_threads';

const WRITTEN = 0;
const STATE = 1;
const SEQ = 2;

const FOLLOW_HASH_WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const buf = Buffer.allocUnsafe(4 << 20);
parentPort.on('message', ({ path, shared }) => {
  const s = new BigInt64Array(shared);
  const hash = createHash('sha256');
  let fd = -1;
  let pos = 0;
  try {
    for (;;) {
      const seq = Atomics.load(s, ${SEQ});
      const written = Number(Atomics.load(s, ${WRITTEN}));
      const state = Atomics.load(s, ${STATE});
      if (state === -1n) { parentPort.postMessage({ aborted: true }); return; }
      if (pos < written && fd < 0) fd = openSync(path, 'r');
      while (pos < written) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, written - pos), pos);
        if (n === 0) throw new Error('the file is shorter than the ' + written + ' bytes written to it');
        hash.update(n === buf.length ? buf : buf.subarray(0, n));
        pos += n;
      }
      if (state === 1n) { parentPort.postMessage({ size: pos, sha256: hash.digest('hex') }); return; }
      Atomics.wait(s, ${SEQ}, seq, 1000);
    }
  } catch (err) {
    parentPort.postMessage({ error: err.message });
  } finally {
    if (fd >= 0) closeSync(fd);
  }
});
`;

export interface FollowedHash {
  /** Tell the worker that `bytes` bytes (in total) are on disk. */
  written(bytes: number): void;
  /** The file is complete: resolves with its size and sha256 once the worker has read everything. */
  finish(): Promise<{ size: number; sha256: string }>;
  /** Stop hashing (the download failed). */
  abort(): void;
}

let worker: Worker | null = null;
let busy = false;

/**
 * Starts hashing `path` behind its writer, or returns null when the hashing thread is busy with another file
 * (the caller hashes in-line then). One thread per process, created on first use and not keeping the process
 * alive; a failed thread is replaced on the next call.
 */
export function followHash(path: string): FollowedHash | null {
  if (busy) return null;
  if (!worker) {
    const w = new Worker(FOLLOW_HASH_WORKER, { eval: true });
    w.unref();
    w.on('error', () => {
      if (worker === w) worker = null;
    });
    w.on('exit', () => {
      if (worker === w) worker = null;
    });
    worker = w;
  }
  const w = worker;
  busy = true;
  const s = new BigInt64Array(new SharedArrayBuffer(3 * 8));
  const set = (index: number, value: bigint) => {
    Atomics.store(s, index, value);
    Atomics.add(s, SEQ, 1n);
    Atomics.notify(s, SEQ);
  };
  const result = new Promise<{ size: number; sha256: string }>((resolve, reject) => {
    const onMessage = (msg: { size: number; sha256: string } | { error: string } | { aborted: true }) => {
      cleanup();
      if ('error' in msg) reject(new Error(`hashing ${path}: ${msg.error}`));
      else if ('aborted' in msg) reject(new Error(`hashing ${path}: aborted`));
      else resolve(msg);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new Error(`hashing ${path}: the hashing thread failed: ${err.message}`));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`hashing ${path}: the hashing thread exited (code ${code})`));
    };
    const cleanup = () => {
      busy = false;
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
  });
  // An abort settles the promise too; nobody may be waiting on it then.
  result.catch(() => undefined);
  w.postMessage({ path, shared: s.buffer });
  return {
    written: (bytes) => set(WRITTEN, BigInt(bytes)),
    finish: () => {
      set(STATE, 1n);
      return result;
    },
    abort: () => set(STATE, -1n),
  };
}

// fs.WriteStream's constructor is (path, options); @types/node declares only Writable's (options).
const FileWriteStream = WriteStream as unknown as new (path: string, options: { highWaterMark: number }) => WriteStream;

/** A file write stream that reports its `bytesWritten` after every completed write. */
export class ReportingWriteStream extends FileWriteStream {
  onWritten: (bytes: number) => void = () => undefined;

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    super._write(chunk, encoding, (err?: Error | null) => {
      if (!err) this.onWritten(this.bytesWritten);
      callback(err);
    });
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    super._writev!(chunks, (err?: Error | null) => {
      if (!err) this.onWritten(this.bytesWritten);
      callback(err);
    });
  }
}
