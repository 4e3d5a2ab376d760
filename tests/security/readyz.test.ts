import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApp } from '../../server/api/app.ts';
import type { AppDeps } from '../../server/api/env.ts';
import { buildDeps } from '../../server/cli/deps.ts';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { startServer } from '../e2e-helpers/server.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

interface Readiness {
  status: 'ready' | 'unavailable';
  checks: Record<'database' | 'artifacts' | 'docker', { status: 'ok' | 'error' | 'skipped'; message: string }>;
}

let database: TestDatabase;
let deps: AppDeps;
before(async () => {
  database = await freshDatabase();
  deps = await buildDeps({ db: database.db, dataDir: database.dir, publicUrl: 'http://127.0.0.1:8080', env: {} });
});
after(() => database.cleanup());

const realEngine = createDockerClient();
const probe = async (appDeps: AppDeps, path = '/readyz') => {
  const response = await createApp(appDeps).request(path);
  return { status: response.status, body: (await response.json()) as Readiness };
};

test('with the real Docker engine and a writable artifact folder, /readyz is 200 and every part ok', async () => {
  const { status, body } = await probe({ ...deps, dockerPing: async () => void (await realEngine.ping()) });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.status, 'ready');
  assert.deepEqual(Object.fromEntries(Object.entries(body.checks).map(([name, check]) => [name, check.status])), {
    database: 'ok',
    artifacts: 'ok',
    docker: 'ok',
  });
});

test('without the embedded runner the Docker engine is not required', async () => {
  const { status, body } = await probe(deps);
  assert.equal(status, 200);
  assert.deepEqual(body.checks.docker, { status: 'skipped', message: 'the embedded runner is off' });
});

test('an engine that does not answer makes /readyz 503 with the reason, /healthz stays 200', async () => {
  const missing = createDockerClient({ socketPath: join(database.dir, 'no-docker.sock') });
  const broken = { ...deps, dockerPing: async () => void (await missing.ping()) };
  const { status, body } = await probe(broken);
  assert.equal(status, 503);
  assert.equal(body.status, 'unavailable');
  assert.equal(body.checks.docker.status, 'error');
  assert.match(body.checks.docker.message, /ENOENT.*no-docker\.sock/);
  assert.equal(body.checks.database.status, 'ok');
  assert.equal((await createApp(broken).request('/healthz')).status, 200);
});

test('a Docker engine that hangs fails the check after a bounded wait instead of hanging the probe', async () => {
  const started = Date.now();
  const { status, body } = await probe({ ...deps, dockerPing: () => new Promise(() => {}) });
  assert.equal(status, 503);
  assert.equal(body.checks.docker.message, 'no answer within 3 s');
  assert.ok(Date.now() - started < 6000);
});

test('a broken artifact folder (replaced by a file) makes /readyz 503 naming the folder; /healthz stays a liveness check', async () => {
  const folder = join(database.dir, 'artifacts');
  rmSync(folder, { recursive: true, force: true });
  writeFileSync(folder, 'not a folder');
  const withEngine = { ...deps, dockerPing: async () => void (await realEngine.ping()) };
  const { status, body } = await probe(withEngine);
  assert.equal(status, 503);
  assert.equal(body.checks.artifacts.status, 'error');
  assert.equal(body.checks.artifacts.message, `the artifact folder ${folder} is not writable: a part of the path is a file, not a folder`);
  assert.equal(body.checks.docker.status, 'ok');
  assert.equal(body.checks.database.status, 'ok');
  const live = await createApp(withEngine).request('/healthz');
  assert.equal(live.status, 200);
  assert.deepEqual(await live.json(), { status: 'ok' });
});

test('a closed database makes /readyz 503', async () => {
  const other = await freshDatabase();
  const otherDeps = await buildDeps({ db: other.db, dataDir: other.dir, publicUrl: 'http://127.0.0.1:8080', env: {} });
  other.close();
  const { status, body } = await probe(otherDeps);
  rmSync(other.dir, { recursive: true, force: true });
  assert.equal(status, 503);
  assert.equal(body.checks.database.status, 'error');
  assert.ok(body.checks.database.message.length > 0);
});

test('flowyard serve wires the Docker engine into /readyz when its embedded runner is on', async () => {
  const withRunner = await startServer({ runner: true });
  try {
    const response = await fetch(`${withRunner.url}/readyz`);
    const body = (await response.json()) as Readiness;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.checks.docker, { status: 'ok', message: 'the Docker engine answers' });
  } finally {
    await withRunner.stop();
  }
  const withoutRunner = await startServer();
  try {
    const body = (await (await fetch(`${withoutRunner.url}/readyz`)).json()) as Readiness;
    assert.equal(body.checks.docker.status, 'skipped');
  } finally {
    await withoutRunner.stop();
  }
});
