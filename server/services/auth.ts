/**
 * Users, browser sessions and API tokens as plain functions over the database (no HTTP here).
 * Session and API tokens are random secrets handed out once; only their SHA-256 is stored.
 */
import { and, asc, eq, isNull, lt, ne, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { apiTokens, roles, runnerRegistrationTokens, sessions, users, workflows, workflowVersions, type Role } from '../../db/schema.ts';
import { sha256Hex } from './crypto.ts';
import { hashPassword, PasswordPolicyError, toBase64Url, verifyPassword } from './passwords.ts';

export interface AuthUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  /** Set for a password someone else chose (first admin, reset): every call but a few answers 403 until it is changed. */
  mustChangePassword: boolean;
}

export const API_TOKEN_PREFIX = 'fy_pat_';
export const SESSION_TOKEN_PREFIX = 'fy_sess_';
export const SESSION_TTL_MS = 14 * 24 * 60 * 60 * 1000;
export const FIRST_ADMIN_EMAIL = 'admin@flowyard.local';
export const ADMIN_TOKEN_NAME = 'FLOWYARD_ADMIN_TOKEN';
const DISPLAY_PREFIX_LENGTH = 12;
const LAST_USED_PRECISION_MS = 60_000;

/** A password a user chooses themselves (changing it) must be at least this long. */
export const NEW_PASSWORD_MIN_LENGTH = 12;

const authUserColumns = { id: users.id, email: users.email, name: users.name, role: users.role, mustChangePassword: users.mustChangePassword };

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

export function hasRole(user: Pick<AuthUser, 'role'>, minRole: Role): boolean {
  return roles.indexOf(user.role) >= roles.indexOf(minRole);
}

const normaliseEmail = (email: string) => email.trim().toLowerCase();

export interface NewUser {
  email: string;
  name: string;
  role: Role;
  /** Omit for a user who only authenticates with API tokens. */
  password?: string;
  /** Someone else chose the password: the user must replace it before doing anything else. */
  mustChangePassword?: boolean;
}

/** Throws `PasswordPolicyError` for a too-short password and `DuplicateEmailError` for a taken email. */
export async function createUser(db: Db, input: NewUser): Promise<AuthUser> {
  const email = normaliseEmail(input.email);
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  const [user] = await db
    .insert(users)
    .values({ email, name: input.name, role: input.role, passwordHash, mustChangePassword: input.mustChangePassword ?? false })
    .onConflictDoNothing({ target: users.email })
    .returning(authUserColumns);
  if (!user) throw new DuplicateEmailError(email);
  return user;
}

export async function findUserByEmail(db: Db, email: string): Promise<AuthUser | null> {
  const [user] = await db
    .select(authUserColumns)
    .from(users)
    .where(eq(users.email, normaliseEmail(email)));
  return user ?? null;
}

export interface UserSummary extends AuthUser {
  disabledAt: Date | null;
  createdAt: Date;
}

export async function listUsers(db: Db): Promise<UserSummary[]> {
  return db
    .select({ ...authUserColumns, disabledAt: users.disabledAt, createdAt: users.createdAt })
    .from(users)
    .orderBy(asc(users.createdAt));
}

export async function getUser(db: Db, id: string): Promise<UserSummary | null> {
  const [user] = await db
    .select({ ...authUserColumns, disabledAt: users.disabledAt, createdAt: users.createdAt })
    .from(users)
    .where(eq(users.id, id));
  return user ?? null;
}

/** Hash of a throwaway password, verified against when the email is unknown so both cases cost the same. */
let decoyPasswordHash: Promise<string> | undefined;

export async function authenticatePassword(db: Db, email: string, password: string): Promise<AuthUser | null> {
  const [row] = await db
    .select({ user: authUserColumns, passwordHash: users.passwordHash, disabledAt: users.disabledAt })
    .from(users)
    .where(eq(users.email, normaliseEmail(email)));
  if (!row?.passwordHash) {
    decoyPasswordHash ??= hashPassword(generateToken('decoy_'));
    await verifyPassword(password, await decoyPasswordHash);
    return null;
  }
  const matches = await verifyPassword(password, row.passwordHash);
  return matches && !row.disabledAt ? row.user : null;
}

/** Also drops the user's expired sessions, so the table does not grow with every sign-in. */
export async function createSession(db: Db, userId: string, ttlMs = SESSION_TTL_MS): Promise<{ token: string; expiresAt: Date }> {
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
    .where(and(eq(sessions.tokenHash, await hashToken(token)), isNull(users.disabledAt)));
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
    .where(and(eq(apiTokens.tokenHash, await hashToken(token)), isNull(users.disabledAt)));
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= now)) return null;
  if (!row.lastUsedAt || now - row.lastUsedAt.getTime() >= LAST_USED_PRECISION_MS) {
    await db
      .update(apiTokens)
      .set({ lastUsedAt: new Date(now) })
      .where(eq(apiTokens.id, row.tokenId));
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
    // The password is printed to a log: it works once, to choose a new one.
    await createUser(db, { email: FIRST_ADMIN_EMAIL, name: 'Admin', role: 'admin', password, mustChangePassword: true });
  } catch (error) {
    // Another process starting at the same moment created it first.
    if (error instanceof DuplicateEmailError) return { created: false };
    throw error;
  }
  return { created: true, email: FIRST_ADMIN_EMAIL, password };
}

async function ensureAdminToken(db: Db, adminToken: string): Promise<void> {
  const [firstAdmin] = await db.select({ id: users.id }).from(users).where(eq(users.role, 'admin')).orderBy(asc(users.createdAt)).limit(1);
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

/** Thrown when the current password given to `changePassword` is wrong. */
export class WrongPasswordError extends Error {
  constructor() {
    super('the current password is wrong');
  }
}

/** Thrown when a change would leave no enabled admin. */
export class LastAdminError extends Error {
  constructor(action: string) {
    super(`cannot ${action} the last enabled admin; make another user admin first`);
  }
}

export class UnknownUserError extends Error {
  constructor(what: string) {
    super(`no user ${what}`);
  }
}

/**
 * The user replaces their own password: the current one must match, the new one must be at least
 * `NEW_PASSWORD_MIN_LENGTH` characters and differ from it. Clears `must_change_password` and ends every other
 * session of the user (`keepSessionToken` is the one making the change, if any).
 */
export async function changePassword(db: Db, userId: string, currentPassword: string, newPassword: string, keepSessionToken?: string): Promise<void> {
  const [row] = await db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId));
  if (!row?.passwordHash || !(await verifyPassword(currentPassword, row.passwordHash))) throw new WrongPasswordError();
  if (newPassword.length < NEW_PASSWORD_MIN_LENGTH) {
    throw new PasswordPolicyError(`the new password must be at least ${NEW_PASSWORD_MIN_LENGTH} characters long`);
  }
  if (newPassword === currentPassword) throw new PasswordPolicyError('the new password must differ from the current one');
  await db
    .update(users)
    .set({ passwordHash: await hashPassword(newPassword), mustChangePassword: false })
    .where(eq(users.id, userId));
  const keep = keepSessionToken ? await hashToken(keepSessionToken) : '';
  await db.delete(sessions).where(and(eq(sessions.userId, userId), ne(sessions.tokenHash, keep)));
}

/**
 * Operator recovery (`flowyard admin reset-password EMAIL`): sets a random one-time password that must be
 * changed at the next sign-in, ends the user's sessions, and returns the password to hand over.
 */
export async function resetPassword(db: Db, email: string): Promise<string> {
  const password = generateToken('');
  const [user] = await db
    .update(users)
    .set({ passwordHash: await hashPassword(password), mustChangePassword: true })
    .where(eq(users.email, normaliseEmail(email)))
    .returning({ id: users.id });
  if (!user) throw new UnknownUserError(`with email ${normaliseEmail(email)}`);
  await db.delete(sessions).where(eq(sessions.userId, user.id));
  return password;
}

/** Ends every session of the user and revokes all their API tokens. */
export async function revokeUserCredentials(db: Db, userId: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.userId, userId));
  await db
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)));
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

async function enabledAdminsOtherThan(tx: Tx, userId: string): Promise<number> {
  const [row] = await tx
    .select({ count: sql<number>`count(*)` })
    .from(users)
    .where(and(eq(users.role, 'admin'), isNull(users.disabledAt), ne(users.id, userId)));
  return Number(row?.count ?? 0);
}

/**
 * An admin changes a user's role or disables / re-enables them. Disabling ends their sessions at once; their
 * API tokens are refused while they stay disabled. Throws `LastAdminError` rather than leave no enabled admin.
 */
export async function updateUser(db: Db, userId: string, change: { role?: Role; disabled?: boolean }): Promise<UserSummary> {
  await db.transaction(async (tx) => {
    const [user] = await tx.select({ role: users.role, disabledAt: users.disabledAt }).from(users).where(eq(users.id, userId));
    if (!user) throw new UnknownUserError(userId);
    const staysEnabledAdmin = (change.role ?? user.role) === 'admin' && !(change.disabled ?? user.disabledAt !== null);
    if (user.role === 'admin' && !user.disabledAt && !staysEnabledAdmin && (await enabledAdminsOtherThan(tx, userId)) === 0) {
      throw new LastAdminError(change.disabled ? 'disable' : 'demote');
    }
    const disabledAt = change.disabled === undefined ? user.disabledAt : change.disabled ? (user.disabledAt ?? new Date()) : null;
    await tx
      .update(users)
      .set({ role: change.role ?? user.role, disabledAt })
      .where(eq(users.id, userId));
    if (change.disabled) await tx.delete(sessions).where(eq(sessions.userId, userId));
  });
  return (await getUser(db, userId))!;
}

/** Deletes the user with their sessions and tokens; what they created stays, without an author. */
export async function deleteUser(db: Db, userId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [user] = await tx.select({ role: users.role, disabledAt: users.disabledAt }).from(users).where(eq(users.id, userId));
    if (!user) throw new UnknownUserError(userId);
    if (user.role === 'admin' && !user.disabledAt && (await enabledAdminsOtherThan(tx, userId)) === 0) throw new LastAdminError('delete');
    await tx.delete(sessions).where(eq(sessions.userId, userId));
    await tx.delete(apiTokens).where(eq(apiTokens.userId, userId));
    await tx.update(workflows).set({ createdBy: null }).where(eq(workflows.createdBy, userId));
    await tx.update(workflows).set({ updatedBy: null }).where(eq(workflows.updatedBy, userId));
    await tx.update(workflowVersions).set({ createdBy: null }).where(eq(workflowVersions.createdBy, userId));
    await tx.update(runnerRegistrationTokens).set({ createdBy: null }).where(eq(runnerRegistrationTokens.createdBy, userId));
    await tx.delete(users).where(eq(users.id, userId));
  });
}
