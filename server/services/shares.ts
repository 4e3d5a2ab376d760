import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { shareLinks } from '../../db/schema.ts';
import { notFound } from './errors.ts';
import { generateToken, hashToken } from './auth.ts';
import { getRun } from './runs.ts';

/** 32 random bytes: 256 bits, far past guessing. */
export const SHARE_TOKEN_PREFIX = 'fy_share_';

export async function createShareLink(db: Db, runId: string, createdBy: string, expiresInHours?: number) {
  await getRun(db, runId);
  const token = generateToken(SHARE_TOKEN_PREFIX);
  const expiresAt = expiresInHours ? new Date(Date.now() + expiresInHours * 3_600_000) : null;
  const [row] = await db
    .insert(shareLinks)
    .values({ runId, tokenHash: await hashToken(token), createdBy, expiresAt })
    .returning();
  return { id: row!.id, token, expiresAt, createdAt: row!.createdAt };
}

export async function listShareLinks(db: Db, runId: string) {
  return db
    .select({ id: shareLinks.id, createdAt: shareLinks.createdAt, expiresAt: shareLinks.expiresAt, revokedAt: shareLinks.revokedAt })
    .from(shareLinks)
    .where(eq(shareLinks.runId, runId))
    .orderBy(desc(shareLinks.createdAt));
}

export async function revokeShareLink(db: Db, runId: string, shareId: string): Promise<void> {
  const rows = await db
    .update(shareLinks)
    .set({ revokedAt: new Date() })
    .where(and(eq(shareLinks.id, shareId), eq(shareLinks.runId, runId), isNull(shareLinks.revokedAt)))
    .returning({ id: shareLinks.id });
  if (rows.length === 0) throw notFound(`share link ${shareId}`);
}

/** The run a share token opens; revoked, expired and unknown tokens all look the same: not found. */
export async function runIdForShareToken(db: Db, token: string): Promise<string> {
  const [row] = await db
    .select()
    .from(shareLinks)
    .where(eq(shareLinks.tokenHash, await hashToken(token)));
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) throw notFound('share link');
  return row.runId;
}

/** What a signed-out visitor may see of a run: its state, steps and timings, nothing else of the workspace. */
export async function sharedRunView(db: Db, runId: string) {
  const run = await getRun(db, runId);
  return {
    workflowName: run.workflowName,
    number: run.number,
    pipeline: run.pipeline,
    state: run.state,
    error: run.error,
    triggerType: run.triggerType,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    steps: run.steps.map((s) => ({
      name: s.name,
      type: s.type,
      state: s.state,
      exitCode: s.exitCode,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      logBytes: s.logBytes,
      error: s.error,
    })),
  };
}
