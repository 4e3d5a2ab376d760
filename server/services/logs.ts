import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants } from 'node:zlib';
import { and, asc, desc, eq, gt, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { logChunks, runSteps, type LogEncoding } from '../../db/schema.ts';
import type { EventBus } from './events.ts';
import { readArchivedPage } from './log-archive-read.ts';

/** Chunks read per query when streaming: bounds memory however long a log is. */
const PAGE_CHUNKS = 32;
/** Smaller chunks (a lone line flushed at once) are stored as they are: compressing them gains next to nothing. */
const COMPRESS_FROM_BYTES = 256;
const compress = promisify(brotliCompress);
const decompress = promisify(brotliDecompress);

export interface StoredChunk {
  data: Uint8Array;
  encoding: LogEncoding;
}

/**
 * A chunk as stored: Brotli at quality 1 (Node 20's zlib has no zstd; quality 1 compresses build output about as
 * fast as gzip -1 and smaller), or as it is when that is not smaller. zlib runs on libuv's thread pool, off the event loop.
 */
export async function encodeChunk(data: Uint8Array): Promise<StoredChunk> {
  if (data.byteLength < COMPRESS_FROM_BYTES) return { data, encoding: 'identity' };
  const packed = await compress(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 1,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength,
    },
  });
  return packed.byteLength < data.byteLength ? { data: packed, encoding: 'br' } : { data, encoding: 'identity' };
}

/** The chunk's text bytes, whichever way it was stored. */
export async function decodeChunk(chunk: StoredChunk): Promise<Uint8Array> {
  const bytes = new Uint8Array(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
  return chunk.encoding === 'br' ? new Uint8Array(await decompress(bytes)) : bytes;
}

const decodeRows = (rows: Array<{ seq: number; data: Buffer; encoding: LogEncoding }>) =>
  Promise.all(rows.map(async (row) => ({ seq: row.seq, data: await decodeChunk(row) })));

export interface IncomingChunk {
  stepIndex: number;
  seq: number;
  data: Uint8Array;
}

type AppendOutcome = { inserted: number; bytes: number } | Error;

interface Append {
  runId: string;
  chunks: IncomingChunk[];
  stored: StoredChunk[];
  /** Its outcome, when another append's commit took it; 'lead' when it is its turn to commit the next group. */
  settle: (turn: AppendOutcome | 'lead') => void;
}

/** Appends waiting for the commit under way, per database: the next transaction takes them all. */
const waiting = new WeakMap<Db, Append[]>();
/** Most appends one transaction takes: bounds its SQL variables (5 a chunk, 200 chunks an append). */
const MAX_APPENDS_PER_COMMIT = 16;

/**
 * Stores chunks once each: a chunk re-sent after a lost reply is recognised by (run, step, seq) and ignored.
 * Chunks are compressed first (on the zlib thread pool); then appends arriving while a commit is under way are
 * committed together in the next transaction (group commit): a commit costs a WAL sync, and a runner keeps
 * several batches in flight, so this stores at the disk's pace rather than one sync per request.
 */
export async function appendLogChunks(db: Db, events: EventBus, runId: string, chunks: IncomingChunk[]): Promise<{ stored: number; duplicates: number }> {
  if (chunks.length === 0) return { stored: 0, duplicates: 0 };
  const stored = await Promise.all(chunks.map((c) => encodeChunk(c.data)));
  const turn = await new Promise<AppendOutcome | 'lead'>((settle) => {
    const queue = waiting.get(db);
    if (queue) return queue.push({ runId, chunks, stored, settle });
    waiting.set(db, [{ runId, chunks, stored, settle }]);
    settle('lead');
  });
  const outcome = turn === 'lead' ? await commitNextGroup(db) : turn;
  if (outcome instanceof Error) throw outcome;
  if (outcome.inserted > 0) events.publish({ type: 'log.appended', runId, stored: outcome.inserted, bytes: outcome.bytes });
  return { stored: outcome.inserted, duplicates: chunks.length - outcome.inserted };
}

/**
 * Commits the group at the head of the queue, which starts with the caller's own append, and hands the next turn
 * to the append then at the head. Each commit runs in the request of an append it stores: on Workers the I/O of a
 * request that has already answered may be cut off, which would leave a transaction open.
 */
async function commitNextGroup(db: Db): Promise<AppendOutcome> {
  const queue = waiting.get(db)!;
  const group = queue.splice(0, MAX_APPENDS_PER_COMMIT);
  let outcomes: AppendOutcome[];
  try {
    outcomes = await commitGroup(db, group);
  } catch (error) {
    outcomes = group.map(() => error as Error);
  }
  group.slice(1).forEach((append, i) => append.settle(outcomes[i + 1]!));
  if (queue.length > 0) queue[0]!.settle('lead');
  else waiting.delete(db);
  return outcomes[0]!;
}

/** One transaction: the group's chunks and the steps' byte counts. Per append, the chunks it stored and their raw bytes. */
async function commitGroup(db: Db, group: Append[]): Promise<Array<{ inserted: number; bytes: number }>> {
  const key = (runId: string, stepIndex: number, seq: number) => `${runId}\0${stepIndex}\0${seq}`;
  return db.transaction(async (tx) => {
    const rows = group.flatMap((append) =>
      append.chunks.map((c, i) => {
        const { data, encoding } = append.stored[i]!;
        return { runId: append.runId, stepIndex: c.stepIndex, seq: c.seq, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), encoding };
      }),
    );
    const inserted = await tx
      .insert(logChunks)
      .values(rows)
      .onConflictDoNothing()
      .returning({ runId: logChunks.runId, stepIndex: logChunks.stepIndex, seq: logChunks.seq });
    const fresh = new Set(inserted.map((row) => key(row.runId, row.stepIndex, row.seq)));
    const bytesByStep = new Map<string, { runId: string; stepIndex: number; bytes: number }>();
    const outcomes = group.map((append) => {
      const outcome = { inserted: 0, bytes: 0 };
      for (const c of append.chunks) {
        // A chunk in two appends of the group (a re-send) counts as stored for the first only.
        if (!fresh.delete(key(append.runId, c.stepIndex, c.seq))) continue;
        outcome.inserted++;
        outcome.bytes += c.data.byteLength;
        const step = bytesByStep.get(`${append.runId}\0${c.stepIndex}`) ?? { runId: append.runId, stepIndex: c.stepIndex, bytes: 0 };
        step.bytes += c.data.byteLength;
        bytesByStep.set(`${append.runId}\0${c.stepIndex}`, step);
      }
      return outcome;
    });
    for (const step of bytesByStep.values()) {
      await tx
        .update(runSteps)
        .set({ logBytes: sql`${runSteps.logBytes} + ${step.bytes}` })
        .where(and(eq(runSteps.runId, step.runId), eq(runSteps.index, step.stepIndex)));
    }
    return outcomes;
  });
}

/**
 * The step's chunks after `afterSeq`, one page at a time, in order, decoded. A short page may mean the step was
 * archived meanwhile (its rows deleted in the transaction that recorded the archive): then the archive answers.
 */
export async function readLogPage(
  db: Db,
  runId: string,
  stepIndex: number,
  afterSeq: number,
  limit = PAGE_CHUNKS,
): Promise<Array<{ seq: number; data: Uint8Array }>> {
  const rows = await db
    .select({ seq: logChunks.seq, data: logChunks.data, encoding: logChunks.encoding })
    .from(logChunks)
    .where(and(eq(logChunks.runId, runId), eq(logChunks.stepIndex, stepIndex), gt(logChunks.seq, afterSeq)))
    .orderBy(asc(logChunks.seq))
    .limit(limit);
  if (rows.length < limit) {
    const archived = await readArchivedPage(db, runId, stepIndex, { afterSeq, limit });
    if (archived) return archived;
  }
  return decodeRows(rows);
}

/** Streams a whole step log page by page, never holding more than one page. */
export async function* readWholeLog(db: Db, runId: string, stepIndex: number): AsyncGenerator<Uint8Array> {
  let after = -1;
  for (;;) {
    const page = await readLogPage(db, runId, stepIndex, after);
    for (const chunk of page) yield chunk.data;
    if (page.length < PAGE_CHUNKS) return;
    after = page.at(-1)!.seq;
  }
}

/**
 * The last `maxLines` lines of a step log, reading chunks from the end: a viewer showing the tail of a
 * finished 1 GiB log reads only the chunks it needs. `truncated` says whether earlier lines exist.
 */
export async function readLogTail(db: Db, runId: string, stepIndex: number, maxLines: number): Promise<{ data: Uint8Array; truncated: boolean }> {
  const collected: Uint8Array[] = [];
  let newlines = 0;
  let before = Number.MAX_SAFE_INTEGER;
  for (;;) {
    const page = await readPageBefore(db, runId, stepIndex, before);
    for (const chunk of page) {
      const bytes = chunk.data;
      collected.unshift(bytes);
      for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) newlines++;
      // One newline more than wanted marks where the kept lines start (a final newline ends the last line).
      if (newlines > maxLines) return { data: cutAfterNewline(concat(collected), newlines - maxLines), truncated: true };
    }
    if (page.length < PAGE_CHUNKS) return { data: concat(collected), truncated: false };
    before = page.at(-1)!.seq;
  }
}

/** The step's chunks before `before`, from the last down, from the rows or (once they are gone) from the archive. */
async function readPageBefore(db: Db, runId: string, stepIndex: number, before: number): Promise<Array<{ seq: number; data: Uint8Array }>> {
  const rows = await db
    .select({ seq: logChunks.seq, data: logChunks.data, encoding: logChunks.encoding })
    .from(logChunks)
    .where(and(eq(logChunks.runId, runId), eq(logChunks.stepIndex, stepIndex), lt(logChunks.seq, before)))
    .orderBy(desc(logChunks.seq))
    .limit(PAGE_CHUNKS);
  if (rows.length < PAGE_CHUNKS) {
    const archived = await readArchivedPage(db, runId, stepIndex, { beforeSeq: before, limit: PAGE_CHUNKS });
    if (archived) return archived;
  }
  return decodeRows(rows);
}

/** The parts as one byte array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Drops everything up to and including the `count`-th newline. */
function cutAfterNewline(bytes: Uint8Array, count: number): Uint8Array {
  let seen = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 10 && ++seen === count) return bytes.subarray(i + 1);
  }
  return bytes;
}
