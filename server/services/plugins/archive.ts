/**
 * Plugin archives: a gzipped tar with `plugin.yaml` at its root. Packing is deterministic (sorted entries,
 * fixed times, owners and modes), so the same folder always gives the same bytes and the same digest.
 * Reading is bounded and refuses anything that could write outside the folder it is unpacked into.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { ApiError } from '../errors.ts';

export const MAX_ARCHIVE_BYTES = 8 * 1024 * 1024;
export const MAX_EXPANDED_BYTES = 32 * 1024 * 1024;
export const MAX_ARCHIVE_ENTRIES = 2000;
const FIXED_MTIME = new Date(0);

/** The files of an archive by their relative POSIX path. */
export type ArchiveFiles = Map<string, Buffer>;

const badArchive = (message: string) => new ApiError(422, 'invalid_archive', `plugin archive: ${message}`);
const mebibytes = (bytes: number) => `${bytes / 1024 / 1024} MiB`;

/** `sha256:<hex>` of the archive bytes: what registries list and installs verify. */
export function archiveDigest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A clean relative path, or why not: no absolute paths, no `..`, no backslashes or NUL, nothing empty. */
export function entryPathProblem(name: string): string | undefined {
  if (name.includes('\0')) return 'contains a NUL byte';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'is absolute';
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.length === 0) return 'is empty';
  if (parts.includes('..')) return 'climbs out of the archive with ..';
  return undefined;
}

const normalise = (name: string) =>
  name
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');

/** Packs files (relative POSIX path → content) into a deterministic tar.gz. */
export async function packFiles(files: ArchiveFiles, executable: ReadonlySet<string> = new Set()): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const name of [...files.keys()].sort()) {
    const problem = entryPathProblem(name);
    if (problem) throw badArchive(`the path "${name}" ${problem}`);
    const content = files.get(name)!;
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { name, size: content.length, mode: executable.has(name) ? 0o755 : 0o644, mtime: FIXED_MTIME, uid: 0, gid: 0, uname: '', gname: '', type: 'file' },
        content,
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  }
  pack.finalize();
  await ended;
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}

/**
 * The files of a tar.gz, read in memory within the limits: at most 8 MiB compressed and 32 MiB expanded, only
 * regular files and folders, clean relative paths, no duplicates. Anything else is a 422 naming the entry.
 */
export async function readArchive(bytes: Uint8Array): Promise<ArchiveFiles> {
  if (bytes.byteLength > MAX_ARCHIVE_BYTES) throw badArchive(`it is larger than the ${mebibytes(MAX_ARCHIVE_BYTES)} limit`);
  let tarBytes: Buffer;
  try {
    tarBytes = gunzipSync(bytes, { maxOutputLength: MAX_EXPANDED_BYTES });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw badArchive(`it expands to more than the ${mebibytes(MAX_EXPANDED_BYTES)} limit`);
    throw badArchive('it is not a gzip file (expected a .tar.gz)');
  }
  const files: ArchiveFiles = new Map();
  const extract = tar.extract();
  let failure: ApiError | undefined;
  const fail = (error: ApiError) => {
    failure ??= error;
    extract.destroy(error);
  };
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const problem = entryPathProblem(header.name);
      if (problem) return fail(badArchive(`the entry "${header.name}" ${problem}`));
      if (files.size >= MAX_ARCHIVE_ENTRIES) return fail(badArchive(`it has more than ${MAX_ARCHIVE_ENTRIES} entries`));
      if (header.type === 'directory') {
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        return fail(badArchive(`the entry "${header.name}" is a ${header.type ?? 'special file'}; only regular files and folders are allowed`));
      }
      const name = normalise(header.name);
      if (files.has(name)) return fail(badArchive(`the entry "${name}" appears twice`));
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        files.set(name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('close', () => (failure ? reject(failure) : resolve()));
    extract.on('error', (error) => reject(failure ?? badArchive(`it is not a valid tar file (${error.message})`)));
    Readable.from([tarBytes]).pipe(extract);
  });
  return files;
}
