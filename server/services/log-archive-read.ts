/**
 * Reading a finished step's log from the artifact store (server/services/log-archive.ts moves it there): the
 * archive row's index locates each chunk in the object, so a page is one range read, as a page of rows is one query.
 */
import { promisify } from 'node:util';
import { brotliDecompress } from 'node:zlib';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { logArchives } from '../../db/schema.ts';
import type { ArtifactStore } from './artifacts/store.ts';

const decompress = promisify(brotliDecompress);

export type LogObjects = Pick<ArtifactStore, 'putObject' | 'readRange' | 'deleteObject'>;

/** The store each database's archived logs live in; readers of a database without one see only log_chunks. */
const stores = new WeakMap<Db, LogObjects>();

export function attachLogArchive(db: Db, store: LogObjects): void {
  stores.set(db, store);
}

export function logArchiveOf(db: Db): LogObjects | undefined {
  return stores.get(db);
}

/** Per chunk: seq, offset, stored length, raw length (big-endian u32s). */
export interface IndexEntry {
  seq: number;
  offset: number;
  stored: number;
  raw: number;
}
export const INDEX_ENTRY_BYTES = 16;

export function encodeIndex(entries: IndexEntry[]): Buffer {
  const out = Buffer.alloc(entries.length * INDEX_ENTRY_BYTES);
  entries.forEach((e, i) => {
    const at = i * INDEX_ENTRY_BYTES;
    out.writeUInt32BE(e.seq, at);
    out.writeUInt32BE(e.offset, at + 4);
    out.writeUInt32BE(e.stored, at + 8);
    out.writeUInt32BE(e.raw, at + 12);
  });
  return out;
}

function entryAt(index: Buffer, i: number): IndexEntry {
  const at = i * INDEX_ENTRY_BYTES;
  return { seq: index.readUInt32BE(at), offset: index.readUInt32BE(at + 4), stored: index.readUInt32BE(at + 8), raw: index.readUInt32BE(at + 12) };
}

/** Position of the first entry whose seq is above `seq` (entries are in seq order). */
function firstAbove(index: Buffer, seq: number): number {
  let [low, high] = [0, index.length / INDEX_ENTRY_BYTES];
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (index.readUInt32BE(mid * INDEX_ENTRY_BYTES) > seq) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * Chunks of an archived step, decoded: those after `afterSeq` in order, or (with `direction: 'before'`) those
 * before `beforeSeq` from the last down, as the row readers return them. Null when the step is not archived.
 */
export async function readArchivedPage(
  db: Db,
  runId: string,
  stepIndex: number,
  page: { afterSeq: number; limit: number } | { beforeSeq: number; limit: number },
): Promise<Array<{ seq: number; data: Uint8Array }> | null> {
  const store = stores.get(db);
  if (!store) return null;
  const [archive] = await db
    .select({ storageKey: logArchives.storageKey, chunkIndex: logArchives.chunkIndex })
    .from(logArchives)
    .where(and(eq(logArchives.runId, runId), eq(logArchives.stepIndex, stepIndex)));
  if (!archive) return null;
  const index = archive.chunkIndex;
  const count = index.length / INDEX_ENTRY_BYTES;
  const [from, to] =
    'afterSeq' in page
      ? [firstAbove(index, page.afterSeq), Math.min(count, firstAbove(index, page.afterSeq) + page.limit)]
      : [Math.max(0, firstAbove(index, page.beforeSeq - 1) - page.limit), firstAbove(index, page.beforeSeq - 1)];
  if (from >= to) return [];
  const entries = Array.from({ length: to - from }, (_, i) => entryAt(index, from + i));
  const start = entries[0]!.offset;
  const last = entries.at(-1)!;
  const bytes = await store.readRange(archive.storageKey, start, last.offset + last.stored - start);
  const chunks = await Promise.all(
    entries.map(async (e) => ({ seq: e.seq, data: new Uint8Array(await decompress(bytes.subarray(e.offset - start, e.offset - start + e.stored))) })),
  );
  return 'afterSeq' in page ? chunks : chunks.reverse();
}
