// Reads the plugin archives the runner fetches: gzipped ustar (as tar-stream and GNU tar write them), regular
// files and folders only. Anything that could land outside the folder it is unpacked into is refused.
import { gunzipSync } from 'node:zlib';

const BLOCK = 512;
const MAX_EXPANDED_BYTES = 32 * 1024 * 1024;

export interface ArchiveEntry {
  path: string;
  mode: number;
  content: Buffer;
}

function field(block: Buffer, offset: number, width: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end === -1 || end > offset + width ? offset + width : end);
}

function octal(block: Buffer, offset: number, width: number, what: string): number {
  const text = field(block, offset, width).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`plugin archive: unreadable ${what} field "${text}"`);
  return text ? Number.parseInt(text, 8) : 0;
}

/** The problem with an entry's path, if any: absolute, climbing out with `..`, or empty. */
function unsafePath(path: string): string | undefined {
  if (path.startsWith('/') || path.includes('\\') || path.includes('\0')) return `the path "${path}" is not a clean relative path`;
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.length === 0) return 'an entry has an empty path';
  if (parts.includes('..')) return `the path "${path}" climbs out of the archive with ..`;
  return undefined;
}

function paxPath(records: Buffer): string | undefined {
  for (const line of records.toString('utf8').split('\n')) {
    const match = /^\d+ path=(.*)$/.exec(line);
    if (match) return match[1];
  }
  return undefined;
}

/** The files of a .tar.gz archive; throws naming the problem for a corrupt archive or an entry it refuses. */
export function readArchive(gzipped: Buffer): ArchiveEntry[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(gzipped, { maxOutputLength: MAX_EXPANDED_BYTES });
  } catch (error) {
    throw new Error(`plugin archive: not a gzipped tar within ${MAX_EXPANDED_BYTES} bytes (${(error as Error).message})`);
  }
  const entries: ArchiveEntry[] = [];
  let longPath: string | undefined;
  for (let offset = 0; offset + BLOCK <= tar.length;) {
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((byte) => byte === 0)) break;
    const size = octal(block, 124, 12, 'size');
    const type = String.fromCharCode(block[156]!);
    const start = offset + BLOCK;
    if (start + size > tar.length) throw new Error('plugin archive: truncated');
    const content = tar.subarray(start, start + size);
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') longPath = paxPath(content) ?? longPath;
    else if (type === 'L') longPath = content.toString('utf8').replace(/\0+$/, '');
    else if (type === 'g') continue;
    else {
      const prefix = field(block, 345, 155);
      const path = longPath ?? (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100));
      longPath = undefined;
      const problem = unsafePath(path);
      if (problem) throw new Error(`plugin archive: ${problem}`);
      if (type === '5') continue;
      if (type !== '0' && type !== '\0') throw new Error(`plugin archive: "${path}" is not a regular file or folder (links are refused)`);
      entries.push({
        path: path
          .split('/')
          .filter((part) => part && part !== '.')
          .join('/'),
        mode: octal(block, 100, 8, 'mode') & 0o755,
        content,
      });
    }
  }
  return entries;
}
