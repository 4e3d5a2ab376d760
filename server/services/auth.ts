/**
 * Users, browser sessions and API tokens as plain functions over the database (no HTTP here).
 * Session and API tokens are random secrets handed out once; only their SHA-256 is stored.
 */
import { and, asc, eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { apiTokens, roles, sessions, users, type Role } from '../../db/schema.ts';
import type { AuthUser } from '../api/env.ts';
import { sha256Hex } from './crypto.ts';
import { hashPassword, toBase64Url, verifyPassword } from './passwords.ts';

export const API_TOKEN_PREFIX = 'fy_pat_';
export const SESSION_TOKEN_PREFIX = 'fy_sess_';
export const SESSION_TTL_MS = 14 * 24 * 60 * 60 * 1000;
export const FIRST_ADMIN_EMAIL = 'admin@flowyard.local';
export const ADMIN_TOKEN_NAME = 'FLOWYARD_ADMIN_TOKEN';
const DISPLAY_PREFIX_LENGTH = 12;
const LAST_USED_PRECISION_MS = 60_000;

const authUserColumns = { id: users.id, email: users.email, name: users.name, role: users.role };

/** Thrown by `createUser` when the (normalised) email already belongs to a user. */
export class DuplicateEmailError extends Error {
  constructor(readonly email: string) {
    super(`a user with email ${email} already exists`);
  }
}

export function generateToken(prefix: string): string {
  return prefix + toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

export const hashToken = sha256Hex;

export function hasRole(user: AuthUser, minRole: Role): boolean {
  return roles.indexOf(user.role) >= roles.indexOf(minRole);
}

const normaliseEmail = (email: string) => email.trim().toLowerCase();

export interface NewUser {
  email: string;
  name: string;
  role: Role;
  /** Omit for a user who only authenticates with API tokens. */
  password?: string;
}

/** Throws `PasswordPolicyError` for a too-short password and `DuplicateEmailError` for a taken email. */
export async function createUser(db: Db, input: NewUser): Promise<AuthUser> {
  const email = normaliseEmail(input.email);
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  const [user] = await db
    .insert(users)
    .values({ email, name: input.name, role: input.role, passwordHash })
    .onConflictDoNothing({ target: users.email })
    .returning(authUserColumns);
  if (!user) throw new DuplicateEmailError(email);
  return user;
}

export async function findUserByEmail(db: Db, email: string): Promise<AuthUser | null> {
  const [user] = await db.select(authUserColumns).from(users).where(eq(users.email, normaliseEmail(email)));
  return user ?? null;
}

export async function listUsers(db: Db): Promise<AuthUser[]> {
  return db.select(authUserColumns).from(users).orderBy(asc(users.createdAt));
}

/** Hash of a throwaway password, verified against when the email is unknown so both cases cost the same. */
let decoyPasswordHash: Promise<string> | undefined;

export async function authenticatePassword(db: Db, email: string, password: string): Promise<AuthUser | null> {
  const [row] = await db
    .select({ user: authUserColumns, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, normaliseEmail(email)));
  if (!row?.passwordHash) {
    decoyPasswordHash ??= hashPassword(generateToken('decoy_'));
    await verifyPassword(password, await decoyPasswordHash);
    return null;
  }
  return (await verifyPassword(password, row.passwordHash)) ? row.user : null;
}

/** Also drops the user's expired sessions, so the table does not grow with every sign-in. */
export async function createSession(
  db: Db,
  userId: string,
  ttlMs = SESSION_TTL_MS,
): Promise<{ token: string; expiresAt: Date }> {
  const now = Date.now();
  const token = generateToken(SESSION_TOKEN_PREFIX);
  const expiresAt = new Date(now + ttlMs);
  await db.delete(sessions).where(and(eq(sessions.userId, userId), lt(sessions.expiresAt, new Date(now))));
  await db.insert(sessions).values({ userId, tokenHash: await hashToken(token), expiresAt });
  return { token, expiresAt };
}

export async function userForSession(db: Db, token: string): Promise<AuthUser | null> {
  const [row] = await db
    .select({ user: authUserColumns, expiresAt: sessions.expiresAt })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.tokenHash, await hashToken(token)));
  if (!row || row.expiresAt.getTime() <= Date.now()) return null;
  return row.user;
}

export async function deleteSession(db: Db, token: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.tokenHash, await hashToken(token)));
}

export interface CreatedApiToken {
  id: string;
  /** The secret itself: show it once, it cannot be recovered. */
  token: string;
  displayPrefix: string;
}

export async function createApiToken(db: Db, userId: string, name: string, expiresAt?: Date): Promise<CreatedApiToken> {
  const token = generateToken(API_TOKEN_PREFIX);
  const displayPrefix = token.slice(0, DISPLAY_PREFIX_LENGTH);
  const [created] = await db
    .insert(apiTokens)
    .values({ userId, name, tokenHash: await hashToken(token), displayPrefix, expiresAt })
    .returning({ id: apiTokens.id });
  return { id: created!.id, token, displayPrefix };
}

export interface ApiTokenSummary {
  id: string;
  name: string;
  displayPrefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export async function listApiTokens(db: Db, userId: string): Promise<ApiTokenSummary[]> {
  return db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      displayPrefix: apiTokens.displayPrefix,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      expiresAt: apiTokens.expiresAt,
      revokedAt: apiTokens.revokedAt,
    })
    .from(apiTokens)
    .where(eq(apiTokens.userId, userId))
    .orderBy(asc(apiTokens.createdAt));
}

/** Returns false when the user has no token with that id; revoking twice keeps the first revocation time. */
export async function revokeApiToken(db: Db, userId: string, tokenId: string): Promise<boolean> {
  const revoked = await db
    .update(apiTokens)
    .set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, ${Date.now()})` })
    .where(and(eq(apiTokens.id, tokenId), eq(apiTokens.userId, userId)))
    .returning({ id: apiTokens.id });
  return revoked.length > 0;
}

export async function userForApiToken(db: Db, token: string): Promise<AuthUser | null> {
  const now = Date.now();
  const [row] = await db
    .select({
      user: authUserColumns,
      tokenId: apiTokens.id,
      expiresAt: apiTokens.expiresAt,
      revokedAt: apiTokens.revokedAt,
      lastUsedAt: apiTokens.lastUsedAt,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(eq(apiTokens.tokenHash, await hashToken(token)));
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= now)) return null;
  if (!row.lastUsedAt || now - row.lastUsedAt.getTime() >= LAST_USED_PRECISION_MS) {
    await db.update(apiTokens).set({ lastUsedAt: new Date(now) }).where(eq(apiTokens.id, row.tokenId));
  }
  return row.user;
}

export type FirstAdminResult = { created: true; email: string; password: string } | { created: false };

/**
 * On an empty database creates the first admin with a random password (returned once so the CLI can print it).
 * With `adminToken`, also makes sure that token is accepted as the first admin's API token; safe to run at every
 * start-up, also by several processes at once. A token revoked through the API stays revoked.
 */
export async function ensureFirstAdmin(db: Db, options: { adminToken?: string } = {}): Promise<FirstAdminResult> {
  const result = await createFirstAdminIfNoUsers(db);
  if (options.adminToken) await ensureAdminToken(db, options.adminToken);
  return result;
}

async function createFirstAdminIfNoUsers(db: Db): Promise<FirstAdminResult> {
  const [anyUser] = await db.select({ id: users.id }).from(users).limit(1);
  if (anyUser) return { created: false };
  const password = generateToken('');
  try {
    await createUser(db, { email: FIRST_ADMIN_EMAIL, name: 'Admin', role: 'admin', password });
  } catch (error) {
    // Another process starting at the same moment created it first.
    if (error instanceof DuplicateEmailError) return { created: false };
    throw error;
  }
  return { created: true, email: FIRST_ADMIN_EMAIL, password };
}

async function ensureAdminToken(db: Db, adminToken: string): Promise<void> {
  const [firstAdmin] = await db
    .select({ id: users.id })
    .from(users)
    .where(eq(users.role, 'admin'))
    .orderBy(asc(users.createdAt))
    .limit(1);
  if (!firstAdmin) throw new Error(`${ADMIN_TOKEN_NAME} is set but there is no admin user to attach it to`);
  const tokenHash = await hashToken(adminToken);
  await db
    .insert(apiTokens)
    .values({
      userId: firstAdmin.id,
      name: ADMIN_TOKEN_NAME,
      tokenHash,
      // The operator chose this secret and it may be short: show part of its hash, not of the token.
      displayPrefix: `sha256:${tokenHash.slice(0, 8)}`,
    })
    .onConflictDoNothing({ target: apiTokens.tokenHash });
}
