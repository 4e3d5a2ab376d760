import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join, resolve } from 'node:path';
import { pluginValidations } from '../../db/schema.ts';
import { packFolder } from '../../server/services/plugins/pack-folder.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { json } from '../helpers/runs.ts';
import { S3_CREDENTIALS, startS3 } from '../helpers/s3.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ROOT = resolve(import.meta.dirname, '../..');
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

async function create(body: Record<string, unknown>) {
  const response = await server.call('POST', '/api/environments', body);
  assert.equal(response.status, 201, await response.clone().text());
  return json(response);
}

const test_ = async (id: string) => json(await server.call('POST', `/api/environments/${id}/test`));

test('environments: CRUD with write-only, encrypted secrets', async () => {
  const env = await create({ name: 'staging', provider: 'docker', config: {}, secrets: { DEPLOY_TOKEN: 'tok-123456', OTHER: 'x-secret' } });
  assert.deepEqual(env.secretNames, ['DEPLOY_TOKEN', 'OTHER']);
  assert.deepEqual([env.protected, env.allowedWorkflows, env.approvers], [true, [], []], 'new environments are protected');
  assert.ok(!JSON.stringify(env).includes('tok-123456'));
  const updated = await json(
    await server.call('PUT', `/api/environments/${env.id}`, {
      name: 'staging',
      provider: 'docker',
      region: 'local',
      config: { docker_host: 'unix:///var/run/docker.sock' },
      secrets: { OTHER: null, NEW_ONE: 'n-secret' },
    }),
  );
  assert.deepEqual(updated.secretNames, ['DEPLOY_TOKEN', 'NEW_ONE']);
  assert.equal(updated.region, 'local');
  assert.equal(updated.protected, true, 'an update that does not name protection keeps it');
  const listed = await json(await server.call('GET', '/api/environments'));
  assert.ok(!JSON.stringify(listed).includes('n-secret'));
  const stored = await server.database.client.execute('select secrets from environments');
  assert.ok(
    stored.rows.every((r) => !String(r.secrets).includes('tok-123456')),
    'encrypted at rest',
  );
  assert.equal((await server.call('POST', '/api/environments', { name: 'staging', provider: 'docker', config: {} })).status, 409);
  assert.equal((await server.call('POST', '/api/environments', { name: 'bad', provider: 'heroku', config: {} })).status, 400);
  const deployments = await json(await server.call('GET', `/api/environments/${env.id}/deployments`));
  assert.deepEqual(deployments.deployments, []);
  assert.equal((await server.call('DELETE', `/api/environments/${env.id}`)).status, 204);
  assert.equal((await server.call('GET', `/api/environments/${env.id}`)).status, 404);
});

test('test connection really reaches the engine, the registry and the bucket', async () => {
  const docker = await create({ name: 'local-docker', provider: 'docker', config: {} });
  assert.deepEqual(await test_(docker.id), { ok: true, message: 'Docker engine at unix:///var/run/docker.sock answered' });
  const dead = await create({ name: 'dead-docker', provider: 'docker', config: { docker_host: 'tcp://127.0.0.1:1' } });
  const deadResult = await test_(dead.id);
  assert.equal(deadResult.ok, false);
  assert.match(deadResult.message, /ECONNREFUSED/);

  const registry = await create({ name: 'registry', provider: 'registry', config: { url: '127.0.0.1:5000', insecure: true } });
  assert.equal((await test_(registry.id)).ok, true);
  const closedRegistry = await create({ name: 'closed-registry', provider: 'registry', config: { url: '127.0.0.1:1', insecure: true } });
  assert.equal((await test_(closedRegistry.id)).ok, false);

  const s3 = await startS3('env-bucket');
  try {
    const bucket = await create({ name: 'bucket', provider: 's3', config: { url: s3.url }, secrets: S3_CREDENTIALS });
    assert.equal((await test_(bucket.id)).ok, true);
    const missing = await create({
      name: 'missing-bucket',
      provider: 's3',
      config: { url: s3.url.replace('env-bucket', 'no-such-bucket') },
      secrets: S3_CREDENTIALS,
    });
    const result = await test_(missing.id);
    assert.equal(result.ok, false);
    assert.match(result.message, /does not exist/);
  } finally {
    await s3.close();
  }
  const cloud = await create({ name: 'ecs', provider: 'aws_ecs', config: {} });
  assert.deepEqual(await test_(cloud.id), {
    ok: false,
    message: 'deploy provider aws_ecs comes from the plugin flowyard/aws-ecs, which is not installed: install it from the Marketplace',
  });
});

test('a cloud provider: its test names the plugin, whether it is installed, and its validation with this environment', async () => {
  const ocean = await create({ name: 'ocean', provider: 'digitalocean', config: {}, secrets: { DIGITALOCEAN_TOKEN: 'do-token-123' } });
  assert.match((await test_(ocean.id)).message, /plugin flowyard\/digitalocean, which is not installed/);

  const upload = await fetch(`${server.url}/api/plugins/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/gzip' },
    body: new Uint8Array(await packFolder(join(ROOT, 'examples/plugins/deploy-digitalocean'))),
  });
  assert.equal(upload.status, 201, await upload.clone().text());
  const installed = await test_(ocean.id);
  assert.equal(installed.ok, true);
  assert.match(installed.message, /^deploy provider digitalocean comes from the plugin flowyard\/digitalocean 0\.1\.0 \(experimental\), which is installed; /);
  assert.match(installed.message, /a deploy runs the plugin on a runner/);
  assert.match(installed.message, /Attach this environment to flowyard\/digitalocean/);

  const attach = await server.call('PUT', '/api/plugin-validations/flowyard/digitalocean/environment', { environmentId: ocean.id });
  assert.equal(attach.status, 200, await attach.clone().text());
  assert.match((await test_(ocean.id)).message, /This environment is its validation environment; no validation has run yet$/);
  await server.database.db
    .insert(pluginValidations)
    .values({ pluginName: 'flowyard/digitalocean', version: '0.1.0', result: 'red', detail: 'the deploy failed' });
  const red = await test_(ocean.id);
  assert.equal(red.ok, false, 'a red validation with these credentials fails the test');
  assert.match(red.message, /Last validation of 0\.1\.0 with this environment: red, the deploy failed$/);
});
