import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openDatabase, type DbHandle } from '../../db/client.ts';
import { migrateDatabase } from '../../db/migrate.ts';
import { apiTokens, sessions } from '../../db/schema.ts';
import {
  ADMIN_TOKEN_NAME,
  API_TOKEN_PREFIX,
  DuplicateEmailError,
  authenticatePassword,
  createApiToken,
  createSession,
  createUser,
  deleteSession,
  ensureFirstAdmin,
  findUserByEmail,
  generateToken,
  hasRole,
  hashToken,
  listApiTokens,
  listUsers,
  revokeApiToken,
  userForApiToken,
  userForSession,
} from '../../server/services/auth.ts';
import { PasswordPolicyError, hashPassword, verifyPassword } from '../../server/services/passwords.ts';

let dir: string;
let dbFile: string;
let handle: DbHandle;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowyard-auth-unit-'));
  dbFile = join(dir, 'test.db');
  handle = await openDatabase('file:' + dbFile);
  await migrateDatabase(handle.db);
});

after(() => {
  handle.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Everything SQLite has written so far, WAL included, as one searchable string. */
function databaseBytes(): string {
  return [dbFile, dbFile + '-wal']
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file).toString('latin1'))
    .join('');
}

test('passwords: hash verifies, wrong password and tampered hash do not', async () => {
  const stored = await hashPassword('correct horse battery');
  assert.match(stored, /^pbkdf2-sha256\$310000\$[\w-]{22}\$[\w-]{43}$/);
  assert.equal(await verifyPassword('correct horse battery', stored), true);
  assert.equal(await verifyPassword('correct horse batterz', stored), false);
  const [scheme, iterations, salt, hash] = stored.split('$') as [string, string, string, string];
  const tamperedHash = (hash.startsWith('A') ? 'B' : 'A') + hash.slice(1);
  assert.equal(await verifyPassword('correct horse battery', [scheme, iterations, salt, tamperedHash].join('$')), false);
  assert.equal(await verifyPassword('correct horse battery', 'not-a-hash'), false);
  assert.notEqual(await hashPassword('correct horse battery'), stored, 'salt is random');
});

test('passwords: the iteration count is read from the stored value', async () => {
  const stored = await hashPassword('a long enough password', 1000);
  assert.match(stored, /^pbkdf2-sha256\$1000\$/);
  assert.equal(await verifyPassword('a long enough password', stored), true);
});

test('passwords: shorter than 10 characters is refused with a clear error', async () => {
  await assert.rejects(hashPassword('short'), (error: unknown) => {
    assert.ok(error instanceof PasswordPolicyError);
    assert.match(error.message, /at least 10 characters/);
    return true;
  });
});

test('tokens: random with prefix, hashed as SHA-256 hex', async () => {
  const token = generateToken(API_TOKEN_PREFIX);
  assert.match(token, /^fy_pat_[\w-]{43}$/);
  assert.notEqual(generateToken(API_TOKEN_PREFIX), token);
  assert.equal(await hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('users: email is normalised and unique', async () => {
  const user = await createUser(handle.db, { email: '  Dana@Example.COM ', name: 'Dana', role: 'editor', password: 'dana password 1' });
  assert.equal(user.email, 'dana@example.com');
  assert.deepEqual(await findUserByEmail(handle.db, 'DANA@example.com'), user);
  assert.equal(await findUserByEmail(handle.db, 'nobody@example.com'), null);
  await assert.rejects(
    createUser(handle.db, { email: 'dana@EXAMPLE.com', name: 'Other', role: 'viewer' }),
    (error: unknown) => error instanceof DuplicateEmailError && /already exists/.test(error.message),
  );
  assert.ok((await listUsers(handle.db)).some((listed) => listed.id === user.id));
});

test('authenticatePassword: right password, wrong password, unknown email, token-only user', async () => {
  await createUser(handle.db, { email: 'erin@example.com', name: 'Erin', role: 'viewer', password: 'erin password 1' });
  await createUser(handle.db, { email: 'bot@example.com', name: 'Bot', role: 'editor' });
  assert.equal((await authenticatePassword(handle.db, 'Erin@example.com', 'erin password 1'))?.email, 'erin@example.com');
  assert.equal(await authenticatePassword(handle.db, 'erin@example.com', 'erin password 2'), null);
  assert.equal(await authenticatePassword(handle.db, 'ghost@example.com', 'erin password 1'), null);
  assert.equal(await authenticatePassword(handle.db, 'bot@example.com', 'anything at all'), null);
});

test('sessions: valid until expiry, gone after delete, token never stored', async () => {
  const user = await createUser(handle.db, { email: 'sam@example.com', name: 'Sam', role: 'viewer' });
  const session = await createSession(handle.db, user.id);
  assert.match(session.token, /^fy_sess_/);
  assert.equal((await userForSession(handle.db, session.token))?.id, user.id);
  assert.equal(await userForSession(handle.db, session.token + 'x'), null);

  const rows = await handle.db.select().from(sessions);
  assert.ok(!JSON.stringify(rows).includes(session.token));
  assert.ok(!databaseBytes().includes(session.token));

  const shortLived = await createSession(handle.db, user.id, 1000);
  assert.equal((await userForSession(handle.db, shortLived.token))?.id, user.id);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal(await userForSession(handle.db, shortLived.token), null, 'expired session');

  await deleteSession(handle.db, session.token);
  assert.equal(await userForSession(handle.db, session.token), null, 'deleted session');
});

test('API tokens: hash only in the database, listed without secrets, revoked at once', async () => {
  const user = await createUser(handle.db, { email: 'tia@example.com', name: 'Tia', role: 'editor' });
  const created = await createApiToken(handle.db, user.id, 'ci');
  assert.equal(created.displayPrefix, created.token.slice(0, 12));
  assert.equal((await userForApiToken(handle.db, created.token))?.id, user.id);

  const rows = await handle.db.select().from(apiTokens);
  assert.ok(!JSON.stringify(rows).includes(created.token));
  assert.ok(!databaseBytes().includes(created.token));

  const [listed, ...others] = await listApiTokens(handle.db, user.id);
  assert.equal(others.length, 0);
  assert.deepEqual(Object.keys(listed!).sort(), ['createdAt', 'displayPrefix', 'expiresAt', 'id', 'lastUsedAt', 'name', 'revokedAt']);
  assert.ok(listed!.lastUsedAt instanceof Date, 'last use recorded');

  const stranger = await createUser(handle.db, { email: 'stranger@example.com', name: 'S', role: 'admin' });
  assert.equal(await revokeApiToken(handle.db, stranger.id, created.id), false, 'not their token');
  assert.equal(await revokeApiToken(handle.db, user.id, created.id), true);
  assert.equal(await userForApiToken(handle.db, created.token), null, 'revoked token refused');
  assert.ok((await listApiTokens(handle.db, user.id))[0]!.revokedAt instanceof Date);

  const expired = await createApiToken(handle.db, user.id, 'old', new Date(Date.now() - 1000));
  assert.equal(await userForApiToken(handle.db, expired.token), null, 'expired token refused');
});

test('roles: viewer < editor < admin', () => {
  const as = (role: 'viewer' | 'editor' | 'admin') => ({ id: '1', email: 'x@example.com', name: 'X', role });
  assert.equal(hasRole(as('viewer'), 'viewer'), true);
  assert.equal(hasRole(as('viewer'), 'editor'), false);
  assert.equal(hasRole(as('editor'), 'editor'), true);
  assert.equal(hasRole(as('editor'), 'admin'), false);
  assert.equal(hasRole(as('admin'), 'viewer'), true);
});

test('ensureFirstAdmin: creates once, admin token idempotent across restarts', async () => {
  const fresh = await openDatabase('file:' + join(dir, 'first-admin.db'));
  try {
    await migrateDatabase(fresh.db);
    const first = await ensureFirstAdmin(fresh.db, { adminToken: 'automation-token-1' });
    assert.ok(first.created);
    assert.equal(first.email, 'admin@flowyard.local');
    assert.ok(first.password.length >= 32);
    const admin = await authenticatePassword(fresh.db, first.email, first.password);
    assert.deepEqual({ role: admin?.role, name: admin?.name }, { role: 'admin', name: 'Admin' });
    assert.equal((await userForApiToken(fresh.db, 'automation-token-1'))?.id, admin!.id);

    assert.deepEqual(await ensureFirstAdmin(fresh.db, { adminToken: 'automation-token-1' }), { created: false });
    assert.equal((await listUsers(fresh.db)).length, 1);
    assert.equal((await listApiTokens(fresh.db, admin!.id)).length, 1, 'same token not added twice');

    await ensureFirstAdmin(fresh.db, { adminToken: 'automation-token-2' });
    const names = (await listApiTokens(fresh.db, admin!.id)).map((token) => token.name);
    assert.deepEqual(names, [ADMIN_TOKEN_NAME, ADMIN_TOKEN_NAME]);
    assert.equal((await userForApiToken(fresh.db, 'automation-token-2'))?.id, admin!.id);
    assert.equal((await userForApiToken(fresh.db, 'automation-token-1'))?.id, admin!.id, 'older value kept');
    assert.ok(!JSON.stringify(await fresh.db.select().from(apiTokens)).includes('automation-token'));
  } finally {
    fresh.close();
  }
});

test('ensureFirstAdmin: leaves a populated database alone', async () => {
  assert.deepEqual(await ensureFirstAdmin(handle.db), { created: false });
  assert.equal(await findUserByEmail(handle.db, 'admin@flowyard.local'), null);
});
