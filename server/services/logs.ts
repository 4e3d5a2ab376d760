import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { logChunks, runSteps } from '../../db/schema.ts';

/** Chunks read per query when streaming: bounds memory however long a log is. */
const PAGE_CHUNKS = 32;

export interface IncomingChunk {
  stepIndex: number;
  seq: number;
  data: Uint8Array;
}

/** Stores chunks once each: a chunk re-sent after a lost reply is recognised by (run, step, seq) and ignored. */
export async function appendLogChunks(db: Db, runId: string, chunks: IncomingChunk[]): Promise<{ stored: number; duplicates: number }> {
  if (chunks.length === 0) return { stored: 0, duplicates: 0 };
  const inserted = await db
    .insert(logChunks)
    .values(chunks.map((c) => ({ runId, stepIndex: c.stepIndex, seq: c.seq, data: Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength) })))
    .onConflictDoNothing()
    .returning({ stepIndex: logChunks.stepIndex, seq: logChunks.seq });
  const sizeOf = new Map(chunks.map((c) => [`${c.stepIndex}:${c.seq}`, c.data.byteLength]));
  const bytesByStep = new Map<number, number>();
  for (const row of inserted) bytesByStep.set(row.stepIndex, (bytesByStep.get(row.stepIndex) ?? 0) + (sizeOf.get(`${row.stepIndex}:${row.seq}`) ?? 0));
  for (const [stepIndex, bytes] of bytesByStep) {
    await db
      .update(runSteps)
      .set({ logBytes: sql`${runSteps.logBytes} + ${bytes}` })
      .where(and(eq(runSteps.runId, runId), eq(runSteps.index, stepIndex)));
  }
  return { stored: inserted.length, duplicates: chunks.length - inserted.length };
}

/** The step's chunks after `afterSeq`, one page at a time, in order. */
export async function readLogPage(db: Db, runId: string, stepIndex: number, afterSeq: number, limit = PAGE_CHUNKS) {
  return db
    .select({ seq: logChunks.seq, data: logChunks.data })
    .from(logChunks)
    .where(and(eq(logChunks.runId, runId), eq(logChunks.stepIndex, stepIndex), gt(logChunks.seq, afterSeq)))
    .orderBy(asc(logChunks.seq))
    .limit(limit);
}

/** Streams a whole step log page by page, never holding more than one page. */
export async function* readWholeLog(db: Db, runId: string, stepIndex: number): AsyncGenerator<Uint8Array> {
  let after = -1;
  for (;;) {
    const page = await readLogPage(db, runId, stepIndex, after);
    for (const chunk of page) yield new Uint8Array(chunk.data);
    if (page.length < PAGE_CHUNKS) return;
    after = page.at(-1)!.seq;
  }
}
