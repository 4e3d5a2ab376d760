import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobs, runnerRegistrationTokens, runners } from '../../db/schema.ts';
import { ApiError } from '../api/errors.ts';
import { generateToken, hashToken } from './auth.ts';

export const REGISTRATION_TOKEN_PREFIX = 'fy_reg_';
export const RUNNER_TOKEN_PREFIX = 'fy_run_';
/** A runner not heard from for this long shows as offline. */
export const RUNNER_OFFLINE_AFTER_MS = 60_000;

export interface AuthRunner {
  id: string;
  name: string;
  labels: string[];
  capacity: number;
  lastSeenAt: Date | null;
}

export async function createRegistrationToken(db: Db, input: { description?: string; expiresInHours?: number }, createdBy: string | null) {
  const token = generateToken(REGISTRATION_TOKEN_PREFIX);
  const expiresAt = input.expiresInHours ? new Date(Date.now() + input.expiresInHours * 3_600_000) : null;
  const [row] = await db
    .insert(runnerRegistrationTokens)
    .values({ tokenHash: await hashToken(token), description: input.description ?? '', createdBy, expiresAt })
    .returning({ id: runnerRegistrationTokens.id, createdAt: runnerRegistrationTokens.createdAt });
  return { id: row!.id, token, expiresAt };
}

export async function revokeRegistrationToken(db: Db, id: string): Promise<boolean> {
  const rows = await db
    .update(runnerRegistrationTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(runnerRegistrationTokens.id, id), isNull(runnerRegistrationTokens.revokedAt)))
    .returning({ id: runnerRegistrationTokens.id });
  return rows.length > 0;
}

/** Exchanges a registration token for a runner identity; the runner token is returned once. */
export async function registerRunner(
  db: Db,
  input: { registrationToken: string; name: string; labels: string[]; capacity: number; version: string },
) {
  const [registration] = await db
    .select()
    .from(runnerRegistrationTokens)
    .where(eq(runnerRegistrationTokens.tokenHash, await hashToken(input.registrationToken)));
  if (!registration || registration.revokedAt || (registration.expiresAt && registration.expiresAt.getTime() < Date.now())) {
    throw new ApiError(401, 'bad_registration_token', 'the registration token is unknown, expired or revoked');
  }
  const token = generateToken(RUNNER_TOKEN_PREFIX);
  const labels = [...new Set(input.labels)].sort();
  const [row] = await db
    .insert(runners)
    .values({ name: input.name, labels, capacity: input.capacity, version: input.version, tokenHash: await hashToken(token), lastSeenAt: new Date() })
    .returning({ id: runners.id });
  return { runnerId: row!.id, token };
}

export async function runnerForToken(db: Db, token: string): Promise<AuthRunner | null> {
  const [row] = await db
    .select({ id: runners.id, name: runners.name, labels: runners.labels, capacity: runners.capacity, lastSeenAt: runners.lastSeenAt, revokedAt: runners.revokedAt })
    .from(runners)
    .where(eq(runners.tokenHash, await hashToken(token)));
  if (!row || row.revokedAt) return null;
  return { id: row.id, name: row.name, labels: row.labels, capacity: row.capacity, lastSeenAt: row.lastSeenAt };
}

/** How stale last_seen_at may get before a runner call writes it again (every call would be a write). */
const TOUCH_EVERY_MS = 5_000;

/** Records that the runner was heard from, unless that was recorded moments ago. */
export async function touchRunner(db: Db, runner: AuthRunner, now = Date.now()): Promise<void> {
  if (runner.lastSeenAt && now - runner.lastSeenAt.getTime() < TOUCH_EVERY_MS) return;
  await db.update(runners).set({ lastSeenAt: new Date(now) }).where(eq(runners.id, runner.id));
}

export async function revokeRunner(db: Db, runnerId: string): Promise<boolean> {
  const rows = await db.update(runners).set({ revokedAt: new Date() }).where(and(eq(runners.id, runnerId), isNull(runners.revokedAt))).returning({ id: runners.id });
  return rows.length > 0;
}

export async function listRunners(db: Db, now = Date.now()) {
  const rows = await db.select().from(runners).where(isNull(runners.revokedAt)).orderBy(runners.name);
  const ids = rows.map((r) => r.id);
  const running = ids.length
    ? await db
        .select({ runnerId: jobs.runnerId, jobId: jobs.id, runId: jobs.runId })
        .from(jobs)
        .where(and(inArray(jobs.runnerId, ids), eq(jobs.state, 'running')))
    : [];
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    labels: r.labels,
    capacity: r.capacity,
    version: r.version,
    createdAt: r.createdAt,
    lastSeenAt: r.lastSeenAt,
    online: r.lastSeenAt !== null && now - r.lastSeenAt.getTime() < RUNNER_OFFLINE_AFTER_MS,
    currentJobs: running.filter((j) => j.runnerId === r.id).map((j) => ({ jobId: j.jobId, runId: j.runId })),
  }));
}

