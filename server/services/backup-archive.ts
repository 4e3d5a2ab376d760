/**
 * The backup file: a gzip-compressed POSIX tar (ustar), so `tar tzf` lists it on any host. Entries have short
 * fixed names (`flowyard-backup.json` first, then `files/<n>`); the JSON manifest maps each to its path in the
 * data folder with its size and SHA-256, so names of any length survive and a damaged file is caught.
 * Streams both ways: neither the database nor the artifacts are held in memory.
 */
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';

const BLOCK = 512;
/** ustar's 11 octal digits for the size. */
export const MAX_ENTRY_BYTES = 8 ** 11 - 1;

/** The file is not a readable Flowyard backup; the message says what is wrong with it. */
export class CorruptBackupError extends Error {}

const octal = (value: number, digits: number) => value.toString(8).padStart(digits, '0');

function header(name: string, size: number, mtimeSeconds: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`archive entry name too long: ${name}`);
  if (size > MAX_ENTRY_BYTES) throw new Error(`${name} is larger than a tar entry can hold (8 GiB)`);
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  block.write(`${octal(0o600, 7)}\0`, 100);
  block.write(`${octal(0, 7)}\0`, 108);
  block.write(`${octal(0, 7)}\0`, 116);
  block.write(`${octal(size, 11)}\0`, 124);
  block.write(`${octal(mtimeSeconds, 11)}\0`, 136);
  block.fill(' ', 148, 156);
  block.write('0', 156);
  block.write('ustar\0', 257);
  block.write('00', 263);
  block.write(`${octal(checksum(block), 6)}\0 `, 148);
  return block;
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum;
}

async function write(out: Writable, chunk: Buffer): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Writes entries to `out` (a gzip stream); `finish` ends the archive and the stream. */
export class TarWriter {
  constructor(private readonly out: Writable) {}

  /** `bytes` must yield exactly `size` bytes: a file that changes while it is read fails the backup. */
  async add(name: string, size: number, bytes: AsyncIterable<Buffer>): Promise<void> {
    await write(this.out, header(name, size, Math.floor(Date.now() / 1000)));
    let written = 0;
    for await (const chunk of bytes) {
      written += chunk.length;
      if (written > size) break;
      await write(this.out, chunk);
    }
    if (written !== size) throw new Error(`${name} changed while it was being backed up (expected ${size} bytes, read ${written})`);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding) await write(this.out, Buffer.alloc(padding));
  }

  async finish(): Promise<void> {
    await write(this.out, Buffer.alloc(BLOCK * 2));
    this.out.end();
  }
}

/** Reads exactly the bytes asked for from a stream of chunks. */
class ByteReader {
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(min: number): Promise<void> {
    while (this.buffered.length < min && !this.ended) {
      const next = await this.source.next();
      if (next.done) this.ended = true;
      else this.buffered = this.buffered.length === 0 ? next.value : Buffer.concat([this.buffered, next.value]);
    }
  }

  async exactly(n: number): Promise<Buffer> {
    await this.fill(n);
    if (this.buffered.length < n) throw new CorruptBackupError('the archive ends in the middle of an entry (truncated?)');
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  async *upTo(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      await this.fill(1);
      if (this.buffered.length === 0) throw new CorruptBackupError('the archive ends in the middle of an entry (truncated?)');
      const take = Math.min(left, this.buffered.length);
      yield this.buffered.subarray(0, take);
      this.buffered = this.buffered.subarray(take);
      left -= take;
    }
  }
}

export interface TarEntry {
  name: string;
  size: number;
  /** Must be read to its end before the next entry is asked for. */
  bytes: AsyncGenerator<Buffer>;
}

/** The entries of a tar stream (already gunzipped), checking each header's checksum. */
export async function* readTar(input: Readable): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(input[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  for (;;) {
    const block = await reader.exactly(BLOCK);
    if (block.every((byte) => byte === 0)) return;
    const stored = parseInt(block.subarray(148, 156).toString('ascii').replace(/\0.*$/s, '').trim(), 8);
    if (stored !== checksum(block)) throw new CorruptBackupError('an archive header is damaged (checksum mismatch)');
    const name = block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(block.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim(), 8);
    if (!Number.isSafeInteger(size) || size < 0) throw new CorruptBackupError(`the archive entry ${name} has no valid size`);
    yield { name, size, bytes: reader.upTo(size) };
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding) await reader.exactly(padding);
  }
}
