/**
 * Finished runs' step logs leave log_chunks for the artifact store: one object per step of its chunks, each
 * Brotli-compressed on its own, and a log_archives row whose index locates them (log-archive-read.ts reads them).
 * The rows go in the transaction that records the archive, so a reader always finds one or the other.
 */
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants } from 'node:zlib';
import { and, asc, eq, gt, isNotNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { logArchives, logChunks, runs, workflows } from '../../db/schema.ts';
import { logObjectKey } from './artifacts/store.ts';
import { notFound } from './errors.ts';
import { decodeChunk } from './logs.ts';
import { encodeIndex, logArchiveOf, type IndexEntry, type LogObjects } from './log-archive-read.ts';

const compress = promisify(brotliCompress);
/** Rows read per query while archiving: bounds memory however long the log is. */
const ARCHIVE_PAGE_ROWS = 64;
/** Steps archived per sweep; the next sweep takes the rest. */
const STEPS_PER_SWEEP = 50;
const DAY_MS = 24 * 3600_000;
/** How often the server archives what the after-settle hook missed (a failure, a restart) and expires old logs. */
export const LOG_SWEEP_MS = 60_000;
/** A century: the longest retention a workflow may set. */
export const MAX_LOG_RETENTION_DAYS = 36_500;

/** A chunk as the archive keeps it: always Brotli, so the object needs no per-chunk encoding. */
async function archivedForm(row: { data: Buffer; encoding: 'identity' | 'br' }): Promise<Uint8Array> {
  if (row.encoding === 'br') return row.data;
  const raw = await decodeChunk(row);
  return compress(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: raw.byteLength } });
}

/** Moves one step's chunks to the store. A failure leaves the rows as they were. */
export async function archiveStep(db: Db, store: LogObjects, runId: string, stepIndex: number): Promise<void> {
  const storageKey = logObjectKey(runId, stepIndex, randomBytes(8).toString('hex'));
  const index: IndexEntry[] = [];
  let [offset, bytes] = [0, 0];
  async function* parts(): AsyncGenerator<Uint8Array> {
    let after = -1;
    for (;;) {
      const rows = await db
        .select({ seq: logChunks.seq, data: logChunks.data, encoding: logChunks.encoding })
        .from(logChunks)
        .where(and(eq(logChunks.runId, runId), eq(logChunks.stepIndex, stepIndex), gt(logChunks.seq, after)))
        .orderBy(asc(logChunks.seq))
        .limit(ARCHIVE_PAGE_ROWS);
      for (const row of rows) {
        const stored = await archivedForm(row);
        const raw = row.encoding === 'br' ? (await decodeChunk(row)).byteLength : row.data.byteLength;
        index.push({ seq: row.seq, offset, stored: stored.byteLength, raw });
        offset += stored.byteLength;
        bytes += raw;
        yield stored;
      }
      if (rows.length < ARCHIVE_PAGE_ROWS) return;
      after = rows.at(-1)!.seq;
    }
  }
  let recorded = false;
  try {
    const { size } = await store.putObject(storageKey, parts());
    if (index.length === 0) return;
    const lastSeq = index.at(-1)!.seq;
    const [inserted] = await db.batch([
      db
        .insert(logArchives)
        .values({ runId, stepIndex, storageKey, encoding: 'br', chunks: index.length, bytes, storedBytes: size, chunkIndex: encodeIndex(index) })
        .onConflictDoNothing()
        .returning({ runId: logArchives.runId }),
      db.delete(logChunks).where(and(eq(logChunks.runId, runId), eq(logChunks.stepIndex, stepIndex), sql`${logChunks.seq} <= ${lastSeq}`)),
    ]);
    recorded = inserted.length > 0;
  } finally {
    // Another archiver got there first, or this attempt failed: its object is nobody's.
    if (!recorded) await store.deleteObject(storageKey).catch(() => undefined);
  }
}

/** Archives the steps of finished runs that still have chunks in the database (all of one run, with `runId`). */
export async function archiveFinishedLogs(db: Db, store: LogObjects, runId?: string): Promise<number> {
  const steps = await db
    .selectDistinct({ runId: logChunks.runId, stepIndex: logChunks.stepIndex })
    .from(logChunks)
    .innerJoin(runs, eq(runs.id, logChunks.runId))
    .where(and(isNotNull(runs.finishedAt), runId === undefined ? undefined : eq(logChunks.runId, runId)))
    .limit(STEPS_PER_SWEEP);
  for (const step of steps) {
    const [already] = await db
      .select({ runId: logArchives.runId })
      .from(logArchives)
      .where(and(eq(logArchives.runId, step.runId), eq(logArchives.stepIndex, step.stepIndex)));
    // Chunks re-sent after the archive was made are duplicates of archived ones.
    if (already) await db.delete(logChunks).where(and(eq(logChunks.runId, step.runId), eq(logChunks.stepIndex, step.stepIndex)));
    else await archiveStep(db, store, step.runId, step.stepIndex);
  }
  return steps.length;
}

/** Deletes archived logs of runs that finished longer ago than their workflow's `log_retention_days`; the object goes once no run lists it. */
export async function expireArchivedLogs(db: Db, store: LogObjects, now = Date.now()): Promise<number> {
  const expired = await db
    .select({ runId: logArchives.runId, stepIndex: logArchives.stepIndex, storageKey: logArchives.storageKey })
    .from(logArchives)
    .innerJoin(runs, eq(runs.id, logArchives.runId))
    .innerJoin(workflows, eq(workflows.id, runs.workflowId))
    .where(and(isNotNull(workflows.logRetentionDays), lt(runs.finishedAt, sql`${now} - ${workflows.logRetentionDays} * ${DAY_MS}`)))
    .limit(STEPS_PER_SWEEP);
  for (const archive of expired) {
    await db.delete(logArchives).where(and(eq(logArchives.runId, archive.runId), eq(logArchives.stepIndex, archive.stepIndex)));
    const [shared] = await db.select({ runId: logArchives.runId }).from(logArchives).where(eq(logArchives.storageKey, archive.storageKey)).limit(1);
    if (!shared) await store.deleteObject(archive.storageKey);
  }
  return expired.length;
}

/** One sweep: archive what finished, expire what is past its retention. Nothing to do without an attached store. */
export async function sweepLogs(db: Db): Promise<void> {
  const store = logArchiveOf(db);
  if (!store) return;
  await archiveFinishedLogs(db, store);
  await expireArchivedLogs(db, store);
}

/** Sets how long a workflow's finished runs keep their logs (null: forever); the new value. */
export async function setLogRetention(db: Db, workflowId: string, days: number | null): Promise<number | null> {
  const updated = await db
    .update(workflows)
    .set({ logRetentionDays: days })
    .where(eq(workflows.id, workflowId))
    .returning({ days: workflows.logRetentionDays });
  if (updated.length === 0) throw notFound(`workflow ${workflowId}`);
  return updated[0]!.days;
}

/** After a run settles: archives its logs in the background; a failure is left for the next sweep. */
export function archiveRunLogsSoon(db: Db, runId: string, onError: (error: Error) => void = () => undefined): void {
  const store = logArchiveOf(db);
  if (!store) return;
  setImmediate(() => void archiveFinishedLogs(db, store, runId).catch(onError));
}

/** Sweeps now and every `intervalMs`; returns a stop function. */
export function startLogSweeper(db: Db, intervalMs: number, onError: (error: Error) => void = () => undefined): () => void {
  const sweep = () => void sweepLogs(db).catch(onError);
  sweep();
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
