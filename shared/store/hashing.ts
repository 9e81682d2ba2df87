import { createHash } from 'node:crypto';

/** Size and sha256 of bytes that flow through `tap`. Read `digest()` once the stream has ended. */
export class ByteCounter {
  private readonly hash = createHash('sha256');
  size = 0;

  /** Passes chunks through unchanged while counting and hashing them. */
  async *tap(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      this.update(bytes);
      yield bytes;
    }
  }

  update(bytes: Uint8Array): void {
    this.hash.update(bytes);
    this.size += bytes.byteLength;
  }

  private hex: string | undefined;

  /** The sha256 (hex) of everything seen; the counter takes no more bytes after this. */
  digest(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
