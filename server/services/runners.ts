import { and, desc, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobs, runnerRegistrationTokens, runners } from '../../db/schema.ts';
import { ApiError } from './errors.ts';
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

/** Registration tokens expire after a day unless the admin chose otherwise. */
export const DEFAULT_REGISTRATION_TOKEN_HOURS = 24;

export interface RegistrationTokenInput {
  description?: string;
  expiresInHours?: number;
  /** The labels runners registered with this token get; none means the runner chooses. */
  labels?: string[];
  /** A fleet token registers any number of runners; the default is one registration. */
  reusable?: boolean;
}

const uniqueLabels = (labels: string[]) => [...new Set(labels.map((label) => label.trim()).filter(Boolean))].sort();

export async function createRegistrationToken(db: Db, input: RegistrationTokenInput, createdBy: string | null) {
  const token = generateToken(REGISTRATION_TOKEN_PREFIX);
  const expiresAt = new Date(Date.now() + (input.expiresInHours ?? DEFAULT_REGISTRATION_TOKEN_HOURS) * 3_600_000);
  const labels = uniqueLabels(input.labels ?? []);
  const reusable = input.reusable ?? false;
  const [row] = await db
    .insert(runnerRegistrationTokens)
    .values({ tokenHash: await hashToken(token), description: input.description ?? '', labels, reusable, createdBy, expiresAt })
    .returning({ id: runnerRegistrationTokens.id, createdAt: runnerRegistrationTokens.createdAt });
  return { id: row!.id, token, expiresAt, labels, reusable };
}

function tokenState(row: { revokedAt: Date | null; expiresAt: Date | null; usedAt: Date | null; reusable: boolean }, now: number) {
  if (row.revokedAt) return 'revoked' as const;
  if (row.expiresAt && row.expiresAt.getTime() <= now) return 'expired' as const;
  return !row.reusable && row.usedAt ? ('used' as const) : ('active' as const);
}

/** Every registration token but its secret, newest first, with what state it is in now. */
export async function listRegistrationTokens(db: Db, now = Date.now()) {
  const rows = await db.select().from(runnerRegistrationTokens).orderBy(desc(runnerRegistrationTokens.createdAt));
  return rows.map((row) => ({
    id: row.id,
    description: row.description,
    labels: row.labels,
    reusable: row.reusable,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    usedAt: row.usedAt,
    revokedAt: row.revokedAt,
    state: tokenState(row, now),
  }));
}

export async function revokeRegistrationToken(db: Db, id: string): Promise<boolean> {
  const rows = await db
    .update(runnerRegistrationTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(runnerRegistrationTokens.id, id), isNull(runnerRegistrationTokens.revokedAt)))
    .returning({ id: runnerRegistrationTokens.id });
  return rows.length > 0;
}

const badToken = () => new ApiError(401, 'bad_registration_token', 'the registration token is unknown, expired, revoked or already used');

/** The runner's labels: those it asked for, which must be granted when the token names labels; else the token's. */
function grantedLabels(granted: string[], requested: string[]): string[] {
  if (granted.length === 0) return requested;
  if (requested.length === 0) return granted;
  const extra = requested.filter((label) => !granted.includes(label));
  if (extra.length > 0) {
    throw new ApiError(
      403,
      'labels_not_granted',
      `the registration token does not grant the label${extra.length > 1 ? 's' : ''} ${extra.join(', ')} (it grants ${granted.join(', ')})`,
    );
  }
  return requested;
}

/**
 * Exchanges a registration token for a runner identity; the runner token is returned once. A one-time token
 * is spent by one conditional UPDATE, so two registrations racing with it cannot both succeed.
 */
export async function registerRunner(db: Db, input: { registrationToken: string; name: string; labels: string[]; capacity: number; version: string }) {
  const now = new Date();
  const [registration] = await db
    .select()
    .from(runnerRegistrationTokens)
    .where(eq(runnerRegistrationTokens.tokenHash, await hashToken(input.registrationToken)));
  // The UPDATE that spends the token checks the same again, so a race between two registrations cannot win twice.
  if (!registration || tokenState(registration, now.getTime()) !== 'active') throw badToken();
  const labels = grantedLabels(registration.labels, uniqueLabels(input.labels));
  const spent = await db
    .update(runnerRegistrationTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(runnerRegistrationTokens.id, registration.id),
        isNull(runnerRegistrationTokens.revokedAt),
        or(isNull(runnerRegistrationTokens.expiresAt), gt(runnerRegistrationTokens.expiresAt, now)),
        or(eq(runnerRegistrationTokens.reusable, true), isNull(runnerRegistrationTokens.usedAt)),
      ),
    )
    .returning({ id: runnerRegistrationTokens.id });
  if (spent.length === 0) throw badToken();
  const token = generateToken(RUNNER_TOKEN_PREFIX);
  const [row] = await db
    .insert(runners)
    .values({ name: input.name, labels, capacity: input.capacity, version: input.version, tokenHash: await hashToken(token), lastSeenAt: new Date() })
    .returning({ id: runners.id });
  return { runnerId: row!.id, token, labels };
}

export async function runnerForToken(db: Db, token: string): Promise<AuthRunner | null> {
  const [row] = await db
    .select({
      id: runners.id,
      name: runners.name,
      labels: runners.labels,
      capacity: runners.capacity,
      lastSeenAt: runners.lastSeenAt,
      revokedAt: runners.revokedAt,
    })
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
  await db
    .update(runners)
    .set({ lastSeenAt: new Date(now) })
    .where(eq(runners.id, runner.id));
}

export async function revokeRunner(db: Db, runnerId: string): Promise<boolean> {
  const rows = await db
    .update(runners)
    .set({ revokedAt: new Date() })
    .where(and(eq(runners.id, runnerId), isNull(runners.revokedAt)))
    .returning({ id: runners.id });
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
