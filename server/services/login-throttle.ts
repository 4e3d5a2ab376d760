/**
 * Sign-in rate limiting with exponential backoff, per account (`account:<email>`) and per client address
 * (`client:<address>`), over the `login_throttles` table so every API process sees the same counts.
 * A key is locked once its failures reach the threshold; each further failure after the lock lapses doubles
 * the lock, up to a cap. Attempts refused during a lock check no password and are not counted.
 */
import { eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { loginThrottles } from '../../db/schema.ts';

export interface ThrottlePolicy {
  /** Failures an account may have before it is locked. */
  accountFailures: number;
  /** Failures one client address may have (over all accounts) before it is locked; higher, for shared NATs. */
  clientFailures: number;
  /** The first lock; each further failure doubles it. */
  baseLockMs: number;
  maxLockMs: number;
  /** Failures older than this (and no lock in force) are forgotten. */
  forgetAfterMs: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  accountFailures: 5,
  clientFailures: 20,
  baseLockMs: 30_000,
  maxLockMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
};

export interface LoginKeys {
  account: string;
  client: string;
}

export const throttleKeys = (email: string, clientAddress: string): LoginKeys => ({
  account: `account:${email.trim().toLowerCase()}`,
  client: `client:${clientAddress}`,
});

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number; until: Date };

/** Whether a sign-in may be tried now: refused while the account or the client address is locked. */
export async function checkLoginAllowed(db: Db, keys: LoginKeys, now = Date.now()): Promise<ThrottleVerdict> {
  const rows = await db
    .select({ lockedUntil: loginThrottles.lockedUntil })
    .from(loginThrottles)
    .where(inArray(loginThrottles.key, [keys.account, keys.client]));
  const until = Math.max(0, ...rows.map((row) => row.lockedUntil?.getTime() ?? 0));
  return until > now ? { allowed: false, retryAfterMs: until - now, until: new Date(until) } : { allowed: true };
}

/** Counts a failed sign-in against both keys and locks those past their threshold. */
export async function recordLoginFailure(db: Db, keys: LoginKeys, policy = DEFAULT_THROTTLE_POLICY, now = Date.now()): Promise<void> {
  await countFailure(db, keys.account, policy.accountFailures, policy, now);
  await countFailure(db, keys.client, policy.clientFailures, policy, now);
}

/** A successful sign-in clears the account's failures. The client's stay, so one valid account cannot reset them. */
export async function recordLoginSuccess(db: Db, keys: LoginKeys): Promise<void> {
  await db.delete(loginThrottles).where(eq(loginThrottles.key, keys.account));
}

const attemptsInFlight = new Map<string, Promise<void>>();

/**
 * Runs this process's sign-in attempts for one account one after another, so a parallel burst cannot all pass
 * the lock check before the first failure is counted. (Across several API processes the counts are shared,
 * so a burst can exceed the threshold by at most one attempt per process.)
 */
export async function oneAttemptAtATime<T>(keys: LoginKeys, attempt: () => Promise<T>): Promise<T> {
  const previous = attemptsInFlight.get(keys.account) ?? Promise.resolve();
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  const mine = previous.then(() => done);
  attemptsInFlight.set(keys.account, mine);
  await previous;
  try {
    return await attempt();
  } finally {
    release();
    if (attemptsInFlight.get(keys.account) === mine) attemptsInFlight.delete(keys.account);
  }
}

export function lockDurationMs(failures: number, threshold: number, policy: ThrottlePolicy): number {
  if (failures < threshold) return 0;
  const doublings = Math.min(failures - threshold, 30);
  return Math.min(policy.baseLockMs * 2 ** doublings, policy.maxLockMs);
}

async function countFailure(db: Db, key: string, threshold: number, policy: ThrottlePolicy, now: number): Promise<void> {
  const stale = now - policy.forgetAfterMs;
  // One statement, so concurrent failures each count.
  const [row] = await db
    .insert(loginThrottles)
    .values({ key, failures: 1, lastFailureAt: new Date(now) })
    .onConflictDoUpdate({
      target: loginThrottles.key,
      set: {
        failures: sql`case when ${loginThrottles.lastFailureAt} < ${stale} and coalesce(${loginThrottles.lockedUntil}, 0) < ${now} then 1 else ${loginThrottles.failures} + 1 end`,
        lastFailureAt: new Date(now),
      },
    })
    .returning({ failures: loginThrottles.failures });
  const lockMs = lockDurationMs(row!.failures, threshold, policy);
  if (lockMs > 0) {
    await db
      .update(loginThrottles)
      .set({ lockedUntil: new Date(now + lockMs) })
      .where(eq(loginThrottles.key, key));
  }
}
