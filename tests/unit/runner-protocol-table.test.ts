import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RUNNER_PROTOCOL_PREFIX, RUNNER_ROUTES } from '../../runners/protocol/v1.ts';
import { createApp } from '../../server/api/app.ts';
import { buildDeps } from '../../server/cli/deps.ts';
import { freshDatabase } from '../helpers/db.ts';

const database = await freshDatabase('flowyard-protocol-table-');
after(() => database.cleanup());

/** `METHOD /path` with `{name}` parameters, the table's spelling, for a Hono route. */
const served = (route: { method: string; path: string }) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`;

test('the API serves exactly the runner protocol table under its prefix', async () => {
  const deps = await buildDeps({ db: database.db, dataDir: database.dir, publicUrl: 'http://127.0.0.1:1', adminToken: 'unused-admin-token', env: {} });
  const underPrefix = createApp(deps)
    .routes.filter((route) => route.method !== 'ALL' && route.path.startsWith(`${RUNNER_PROTOCOL_PREFIX}/`))
    .map((route) => served({ method: route.method, path: route.path.slice(RUNNER_PROTOCOL_PREFIX.length) }));
  const table = Object.values(RUNNER_ROUTES).map((route) => `${route.method} ${route.path}`);
  assert.deepEqual([...new Set(underPrefix)].sort(), [...table].sort());
});

test('the table names every call once, with a path its parameters schema covers', () => {
  const keys = Object.values(RUNNER_ROUTES).map((route) => `${route.method} ${route.path}`);
  assert.equal(new Set(keys).size, keys.length, 'two calls share a method and path');
  for (const [name, route] of Object.entries(RUNNER_ROUTES)) {
    const inPath = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
    const inSchema = Object.keys('params' in route ? route.params.shape : {}).sort();
    assert.deepEqual(inPath, inSchema, `${name}: path parameters and params schema differ`);
  }
});
