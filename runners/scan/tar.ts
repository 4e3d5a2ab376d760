// Just enough of the tar format for the engine's archive API: write folders and host files
// (putArchive), read back the single file of a getArchive answer.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';

const BLOCK = 512;
/** The 11 octal digits of a ustar size field. */
const MAX_ENTRY_SIZE = 8 ** 11 - 1;

export type TarEntry = { type: 'dir'; name: string; mode: number } | { type: 'file'; name: string; mode: number; hostFile: string };

/** A ustar stream of `entries` (names relative, at most 100 bytes; files are read from the host when streamed). */
export function tarArchive(entries: readonly TarEntry[]): Readable {
  return Readable.from(tarBlocks(entries));
}

async function* tarBlocks(entries: readonly TarEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    if (entry.type === 'dir') {
      yield header(entry.name.endsWith('/') ? entry.name : `${entry.name}/`, entry.mode, 0, '5');
      continue;
    }
    const { size } = await stat(entry.hostFile);
    yield header(entry.name, entry.mode, size, '0');
    let written = 0;
    for await (const chunk of createReadStream(entry.hostFile)) {
      written += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    if (written !== size) throw new Error(`${entry.hostFile} changed size while it was archived`);
    if (size % BLOCK) yield Buffer.alloc(BLOCK - (size % BLOCK));
  }
  yield Buffer.alloc(2 * BLOCK);
}

function header(name: string, mode: number, size: number, type: '0' | '5'): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name "${name}" is longer than 100 bytes`);
  if (size > MAX_ENTRY_SIZE) throw new Error(`tar entry "${name}" is larger than 8 GiB`);
  const block = Buffer.alloc(BLOCK);
  const octal = (value: number, offset: number, width: number) => block.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, 'ascii');
  block.write(name, 0, 'utf8');
  octal(mode, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(size, 124, 12);
  octal(Math.floor(Date.now() / 1000), 136, 12);
  block.write(type, 156, 'ascii');
  block.write('ustar\u000000', 257, 'ascii');
  block.write(`${checksum(block).toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** Sum of the header bytes with the checksum field counted as spaces. */
function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

function octalField(block: Buffer, offset: number, width: number, what: string): number {
  const text = block
    .toString('ascii', offset, offset + width)
    .replace(/[\0 ]+$/, '')
    .trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`tar: unreadable ${what} field "${text}"`);
  return text ? Number.parseInt(text, 8) : 0;
}

/**
 * The content of the first regular file in a tar archive (pax and GNU long-name records and folders
 * are skipped). Throws on a corrupt or truncated archive, or one without a file.
 */
export function firstFileInTar(archive: Buffer): Buffer {
  for (let offset = 0; offset + BLOCK <= archive.length;) {
    const block = archive.subarray(offset, offset + BLOCK);
    if (block.every((byte) => byte === 0)) break;
    if (octalField(block, 148, 8, 'checksum') !== checksum(block)) throw new Error(`tar: bad header checksum at byte ${offset}`);
    const size = octalField(block, 124, 12, 'size');
    const type = String.fromCharCode(block[156]!);
    const start = offset + BLOCK;
    if (start + size > archive.length) throw new Error('tar: archive is truncated');
    if (type === '0' || type === '\0') return archive.subarray(start, start + size);
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new Error('tar: archive holds no file');
}
