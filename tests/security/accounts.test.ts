/**
 * Attacks on accounts: a leaked first-admin password from the server log, a former colleague whose session
 * or API token keeps working, an admin locking everyone out, a stolen session used to guess the password.
 * Defences: forced password change, disable/delete/revoke that take effect at once, a last-admin guard.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createApiToken, createUser, ensureFirstAdmin, FIRST_ADMIN_EMAIL, resetPassword } from '../../server/services/auth.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

interface Session {
  cookie: string;
  call(method: string, path: string, body?: unknown): Promise<Response>;
}

/** Signs in like the browser does: the session cookie, and our Origin on unsafe requests. */
async function signIn(email: string, password: string): Promise<Session> {
  const response = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0]!;
  return {
    cookie,
    call: (method, path, body) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { cookie, origin: server.url, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
  };
}

const bearer = (token: string) => (path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

async function newUser(email: string, role: 'viewer' | 'editor' | 'admin' = 'editor', password = 'a long enough password') {
  const user = await createUser(server.database.db, { email, name: email.split('@')[0]!, role, password });
  return { ...user, password };
}

test("the first admin's printed password only lets them choose a new one", async () => {
  const database: TestDatabase = await freshDatabase();
  try {
    const first = await ensureFirstAdmin(database.db);
    assert.ok(first.created);
    const created = await createUser(database.db, { email: 'check@example.com', name: 'c', role: 'viewer' });
    assert.equal(created.mustChangePassword, false, 'users added by an admin are not forced');
  } finally {
    database.cleanup();
  }

  // The test server's first admin has the printed password: reset it to learn one, as the CLI would.
  const printed = await resetPassword(server.database.db, FIRST_ADMIN_EMAIL);
  const admin = await signIn(FIRST_ADMIN_EMAIL, printed);
  const me = await admin.call('GET', '/api/auth/me');
  assert.equal(me.status, 200);
  assert.equal(((await me.json()) as { user: { mustChangePassword: boolean } }).user.mustChangePassword, true);
  for (const [method, path] of [
    ['GET', '/api/workflows'],
    ['GET', '/api/users'],
    ['POST', '/api/tokens'],
    ['GET', '/api/tokens'],
  ] as const) {
    const refused = await admin.call(method, path, method === 'POST' ? { name: 'sneaky' } : undefined);
    assert.equal(refused.status, 403, `${method} ${path}`);
    assert.equal(await errorCode(refused), 'password_change_required');
  }
  // The operator's FLOWYARD_ADMIN_TOKEN is not held up by the change.
  assert.equal((await bearer(TEST_ADMIN_TOKEN)('/api/workflows')).status, 200);

  const weak = await admin.call('POST', '/api/auth/password', { currentPassword: printed, newPassword: 'short one' });
  assert.equal(weak.status, 400);
  const wrong = await admin.call('POST', '/api/auth/password', { currentPassword: 'not it at all', newPassword: 'a brand new passphrase' });
  assert.equal(wrong.status, 403);
  assert.equal(await errorCode(wrong), 'wrong_password');
  const changed = await admin.call('POST', '/api/auth/password', { currentPassword: printed, newPassword: 'a brand new passphrase' });
  assert.equal(changed.status, 204, await changed.clone().text());
  assert.equal((await admin.call('GET', '/api/workflows')).status, 200, 'the same session works once the password is changed');
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: FIRST_ADMIN_EMAIL, password: printed }),
  });
  assert.equal(login.status, 401, 'the printed password is spent');
});

test('changing your password ends your other sessions; a reset ends all of them and forces a change', async () => {
  const user = await newUser('pat@example.com');
  const laptop = await signIn(user.email, user.password);
  const phone = await signIn(user.email, user.password);
  assert.equal((await laptop.call('POST', '/api/auth/password', { currentPassword: user.password, newPassword: 'pat has a new passphrase' })).status, 204);
  assert.equal((await laptop.call('GET', '/api/auth/me')).status, 200);
  assert.equal((await phone.call('GET', '/api/auth/me')).status, 401, 'a session a thief may hold is gone');

  const oneTime = await resetPassword(server.database.db, 'PAT@example.com');
  assert.ok(oneTime.length >= 32);
  assert.equal((await laptop.call('GET', '/api/auth/me')).status, 401);
  const again = await signIn(user.email, oneTime);
  assert.equal(await errorCode(await again.call('GET', '/api/workflows')), 'password_change_required');
  await assert.rejects(resetPassword(server.database.db, 'ghost@example.com'), /no user with email ghost@example.com/);
});

test("a disabled user's sessions and API tokens stop working at once; re-enabled, they can sign in again", async () => {
  const user = await newUser('leaver@example.com');
  const session = await signIn(user.email, user.password);
  const { token } = await createApiToken(server.database.db, user.id, 'ci');
  assert.equal((await bearer(token)('/api/workflows')).status, 200);

  const disabled = await server.call('PATCH', `/api/users/${user.id}`, { disabled: true });
  assert.equal(disabled.status, 200);
  assert.equal(typeof ((await disabled.json()) as { user: { disabledAt: string | null } }).user.disabledAt, 'string');
  assert.equal((await session.call('GET', '/api/workflows')).status, 401);
  assert.equal((await bearer(token)('/api/workflows')).status, 401);
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: user.email, password: user.password }),
  });
  assert.equal(login.status, 401);

  assert.equal((await server.call('PATCH', `/api/users/${user.id}`, { disabled: false })).status, 200);
  await signIn(user.email, user.password);
});

test('revoke-sessions ends every session and API token of a user; delete removes the user', async () => {
  const user = await newUser('phished@example.com');
  const session = await signIn(user.email, user.password);
  const { token } = await createApiToken(server.database.db, user.id, 'laptop');
  assert.equal((await server.call('POST', `/api/users/${user.id}/revoke-sessions`)).status, 204);
  assert.equal((await session.call('GET', '/api/auth/me')).status, 401);
  assert.equal((await bearer(token)('/api/auth/me')).status, 401);

  const again = await signIn(user.email, user.password);
  const { token: second } = await createApiToken(server.database.db, user.id, 'new');
  assert.equal((await server.call('DELETE', `/api/users/${user.id}`)).status, 204);
  assert.equal((await again.call('GET', '/api/auth/me')).status, 401);
  assert.equal((await bearer(second)('/api/auth/me')).status, 401);
  const users = (await (await server.call('GET', '/api/users')).json()) as { users: Array<{ email: string }> };
  assert.ok(!users.users.some((u) => u.email === user.email));
  assert.equal((await server.call('DELETE', `/api/users/${user.id}`)).status, 404);
  assert.equal((await server.call('POST', `/api/users/${user.id}/revoke-sessions`)).status, 404);
});

test('role changes apply at once, only admins manage users, and the last enabled admin cannot be removed', async () => {
  const editor = await newUser('ed@example.com', 'editor');
  const session = await signIn(editor.email, editor.password);
  assert.equal((await session.call('GET', '/api/users')).status, 403);
  assert.equal((await session.call('PATCH', `/api/users/${editor.id}`, { role: 'admin' })).status, 403, 'no self-promotion');
  assert.equal((await server.call('PATCH', `/api/users/${editor.id}`, { role: 'viewer' })).status, 200);
  assert.equal((await session.call('POST', '/api/workflows', { name: 'not-allowed', yaml: 'name: x\n' })).status, 403);

  // Every other admin is demoted or disabled, so the first admin is the last one.
  const listed = (await (await server.call('GET', '/api/users')).json()) as {
    users: Array<{ id: string; email: string; role: string; disabledAt: string | null }>;
  };
  const firstAdmin = listed.users.find((u) => u.email === FIRST_ADMIN_EMAIL)!;
  for (const other of listed.users.filter((u) => u.role === 'admin' && u.id !== firstAdmin.id)) {
    await server.call('PATCH', `/api/users/${other.id}`, { role: 'editor' });
  }
  for (const change of [{ disabled: true }, { role: 'editor' }, { role: 'viewer', disabled: false }]) {
    const refused = await server.call('PATCH', `/api/users/${firstAdmin.id}`, change);
    assert.equal(refused.status, 409, JSON.stringify(change));
    assert.equal(await errorCode(refused), 'last_admin');
  }
  assert.equal((await server.call('DELETE', `/api/users/${firstAdmin.id}`)).status, 409);

  // With a second admin, the first may step down.
  const second = await newUser('second-admin@example.com', 'admin');
  assert.equal((await server.call('PATCH', `/api/users/${firstAdmin.id}`, { role: 'editor' })).status, 200);
  const secondSession = await signIn(second.email, second.password);
  assert.equal((await secondSession.call('PATCH', `/api/users/${second.id}`, { disabled: true })).status, 409, 'now the second is the last');
  assert.equal((await secondSession.call('PATCH', `/api/users/${firstAdmin.id}`, { role: 'admin' })).status, 200);
  assert.equal((await server.call('PATCH', '/api/users/no-such-user', { role: 'viewer' })).status, 404);
});

test('a stolen session cannot be used to guess the password through the change-password route', async () => {
  const user = await newUser('guessed@example.com');
  const session = await signIn(user.email, user.password);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const response = await session.call('POST', '/api/auth/password', { currentPassword: `guess number ${i}`, newPassword: 'attacker chosen password' });
    statuses.push(response.status);
    await response.body?.cancel();
  }
  assert.deepEqual(statuses, [403, 403, 403, 403, 403, 429, 429, 429]);
});
