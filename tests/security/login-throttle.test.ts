/**
 * Attack: guessing passwords online, as fast as the server answers, against one account (brute force) or
 * many accounts from one address (spraying). Defence: failures per account and per client address in
 * `login_throttles`, with locks that double up to a cap; a locked key is answered 429 with Retry-After,
 * even for the right password, and checks no password at all.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createUser } from '../../server/services/auth.ts';
import {
  checkLoginAllowed,
  DEFAULT_THROTTLE_POLICY,
  lockDurationMs,
  recordLoginFailure,
  recordLoginSuccess,
  throttleKeys,
} from '../../server/services/login-throttle.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery staple';
let proxied: TestServer;
let direct: TestServer;
let database: TestDatabase;

before(async () => {
  [proxied, direct, database] = await Promise.all([startTestServer({ env: { FLOWYARD_TRUST_PROXY: '1' } }), startTestServer(), freshDatabase()]);
  for (const server of [proxied, direct]) {
    for (const email of ['victim@example.com', 'bystander@example.com'])
      await createUser(server.database.db, { email, name: email, role: 'editor', password: PASSWORD });
  }
});
after(async () => {
  await Promise.all([proxied.close(), direct.close()]);
  database.cleanup();
});

function login(server: TestServer, email: string, password: string, forwardedFor?: string) {
  return fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: JSON.stringify({ email, password }),
  });
}

test('200 wrong passwords against one account: 401 only up to the threshold, then 429 with Retry-After', async () => {
  const statuses: number[] = [];
  const started = Date.now();
  for (let attempt = 0; attempt < 200; attempt++) {
    const response = await login(proxied, 'victim@example.com', `guess ${attempt}`, '203.0.113.5');
    statuses.push(response.status);
    if (response.status === 429) {
      const retryAfter = Number(response.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'too_many_attempts');
      assert.match(error.message, /try again in \d+ s/);
    } else {
      await response.body?.cancel();
    }
  }
  assert.ok(Date.now() - started < 60_000, 'the attack ran within a minute');
  assert.equal(statuses.filter((s) => s === 401).length, DEFAULT_THROTTLE_POLICY.accountFailures);
  assert.deepEqual(statuses.slice(0, DEFAULT_THROTTLE_POLICY.accountFailures), Array(DEFAULT_THROTTLE_POLICY.accountFailures).fill(401));
  assert.ok(statuses.slice(DEFAULT_THROTTLE_POLICY.accountFailures).every((s) => s === 429));

  // The right password during the lock is refused too, and from any address: the account itself is locked.
  assert.equal((await login(proxied, 'victim@example.com', PASSWORD, '203.0.113.5')).status, 429);
  assert.equal((await login(proxied, 'victim@example.com', PASSWORD, '198.51.100.7')).status, 429);

  // Another account from another address is not affected.
  assert.equal((await login(proxied, 'bystander@example.com', 'one typo', '198.51.100.7')).status, 401);
  assert.equal((await login(proxied, 'bystander@example.com', PASSWORD, '198.51.100.7')).status, 200);
});

test('a parallel burst against one account gets no more guesses than the threshold', async () => {
  await createUser(proxied.database.db, { email: 'burst@example.com', name: 'b', role: 'viewer', password: PASSWORD });
  const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => login(proxied, 'burst@example.com', `parallel guess ${i}`, `198.18.0.${i}`)));
  const statuses = responses.map((r) => r.status);
  await Promise.all(responses.map((r) => r.body?.cancel()));
  assert.equal(statuses.filter((s) => s === 401).length, DEFAULT_THROTTLE_POLICY.accountFailures, statuses.join(' '));
  assert.equal(statuses.filter((s) => s === 429).length, 40 - DEFAULT_THROTTLE_POLICY.accountFailures);
});

test('spraying many accounts from one address locks that address, not the others', async () => {
  const threshold = DEFAULT_THROTTLE_POLICY.clientFailures;
  const statuses: number[] = [];
  for (let i = 0; i < threshold + 5; i++) {
    const response = await login(proxied, `user${i}@example.com`, 'Summer2026!', '192.0.2.66');
    statuses.push(response.status);
    await response.body?.cancel();
  }
  assert.deepEqual(statuses.slice(0, threshold), Array(threshold).fill(401));
  assert.deepEqual(statuses.slice(threshold), Array(5).fill(429));
  assert.equal((await login(proxied, 'bystander@example.com', PASSWORD, '192.0.2.66')).status, 429, 'even a valid account from the locked address');
  assert.equal((await login(proxied, 'bystander@example.com', PASSWORD, '192.0.2.67')).status, 200);
});

test('without FLOWYARD_TRUST_PROXY a forged X-Forwarded-For does not give a fresh address', async () => {
  const threshold = DEFAULT_THROTTLE_POLICY.clientFailures;
  const statuses: number[] = [];
  for (let i = 0; i < threshold + 3; i++) {
    const response = await login(direct, `sprayed${i}@example.com`, 'Summer2026!', `10.9.${i}.1`);
    statuses.push(response.status);
    await response.body?.cancel();
  }
  assert.deepEqual(statuses.slice(threshold), [429, 429, 429]);
});

test('locks double with each failure after one lapses, up to the cap; success clears the account', async () => {
  const { db } = database;
  const policy = DEFAULT_THROTTLE_POLICY;
  const keys = throttleKeys('Dana@Example.com', '127.0.0.1');
  assert.equal(keys.account, 'account:dana@example.com');
  let now = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < policy.accountFailures - 1; i++) await recordLoginFailure(db, keys, policy, now);
  assert.deepEqual(await checkLoginAllowed(db, keys, now), { allowed: true });

  const locks: number[] = [];
  for (let i = 0; i < 8; i++) {
    await recordLoginFailure(db, keys, policy, now);
    const verdict = await checkLoginAllowed(db, keys, now);
    assert.equal(verdict.allowed, false);
    if (verdict.allowed) return;
    locks.push(verdict.retryAfterMs);
    now = verdict.until.getTime(); // the lock lapses; the next failure locks again, for longer
    assert.deepEqual(await checkLoginAllowed(db, keys, now), { allowed: true });
  }
  assert.deepEqual(locks, [30_000, 60_000, 120_000, 240_000, 480_000, 900_000, 900_000, 900_000]);
  assert.equal(lockDurationMs(policy.accountFailures + 100, policy.accountFailures, policy), policy.maxLockMs);

  await recordLoginSuccess(db, keys);
  await recordLoginFailure(db, keys, policy, now);
  assert.deepEqual(await checkLoginAllowed(db, keys, now), { allowed: true }, 'counting starts again after a success');

  // Old failures are forgotten once no lock is in force.
  const quiet = throttleKeys('erin@example.com', '127.0.0.2');
  for (let i = 0; i < policy.accountFailures - 1; i++) await recordLoginFailure(db, quiet, policy, now);
  await recordLoginFailure(db, quiet, policy, now + policy.forgetAfterMs + 1);
  assert.deepEqual(await checkLoginAllowed(db, quiet, now + policy.forgetAfterMs + 1), { allowed: true });
});
