import { createHash } from 'node:crypto';

/**
 * Cuts a byte stream into parts of exactly `partSize` bytes (the last one shorter, never empty), hashing the whole
 * stream on the way. Reads only when the consumer asks for the next part, so memory is bounded by the parts the
 * consumer still holds; a part handed back with `release` is filled again instead of allocating (the garbage
 * collector frees big buffers late, and RSS would grow with the artifact). `total()` is the size and SHA-256 once
 * the parts are exhausted.
 */
export function partsOf(source: AsyncIterable<Uint8Array>, partSize: number) {
  const hash = createHash('sha256');
  const free: Buffer[] = [];
  let size = 0;
  let finished = false;
  const fresh = () => free.pop() ?? Buffer.allocUnsafe(partSize);
  async function* parts(): AsyncGenerator<Buffer> {
    let part = fresh();
    let filled = 0;
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.byteLength;
      for (let offset = 0; offset < chunk.byteLength;) {
        const taken = Math.min(partSize - filled, chunk.byteLength - offset);
        part.set(chunk.subarray(offset, offset + taken), filled);
        filled += taken;
        offset += taken;
        if (filled === partSize) {
          yield part;
          part = fresh();
          filled = 0;
        }
      }
    }
    if (filled > 0) yield part.subarray(0, filled);
    finished = true;
  }
  return {
    parts: parts(),
    /** Hands back a part that is no longer needed (its bytes are sent), to be filled again. */
    release(part: Buffer): void {
      if (part.byteLength === partSize) free.push(part);
    },
    total(): { size: number; sha256: string } {
      if (!finished) throw new Error('the stream has not been read to its end');
      return { size, sha256: hash.digest('hex') };
    },
  };
}
