// A cloud deploy provider as a plugin, end to end: the flowyard/digitalocean plugin (examples/plugins/deploy-digitalocean,
// bundled and packed here) is uploaded to a real Flowyard, a workflow deploying with provider digitalocean is published
// and run by a real runner daemon, which fetches the archive, starts the plugin's DeployProviderService and deploys to a
// STAND-IN of the DigitalOcean API (tests/helpers/digitalocean-api-standin.ts; the real one cannot be reached here).
// Status, rollback, metrics and the connection test go through the runner's DeployProvider interface over the plugin;
// the AWS, Google Cloud and Azure plugin bundles are started the same way and reach a loopback stand-in with their credentials.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningRunner } from '../../runners/daemon/daemon.ts';
import type { DeployProvider } from '../../runners/deploy/provider.ts';
import { createProvider } from '../../runners/deploy/providers.ts';
import { PluginHost } from '../../runners/plugins/host.ts';
import type { PluginStepRef } from '../../runners/protocol/v1.ts';
import { buildDeployPlugin, type PackedPlugin } from '../../scripts/build-example-plugins.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { startDigitalOceanStandIn, type DigitalOceanStandIn } from '../helpers/digitalocean-api-standin.ts';
import { docker, finished, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const TOKEN = `dop_v1_standin_${Math.random().toString(36).slice(2)}`;
let server: TestServer;
let runner: RunningRunner;
let plugin: PackedPlugin;
let cloud: DigitalOceanStandIn;
let workflowId: string;
let hostDir: string;
let host: PluginHost;

const workflow = (apiUrl: string) => `name: do-deploy
requires:
  plugins:
    - { name: flowyard/digitalocean, version: ^0.1.0 }
modules:
  - name: app-platform
    type: deploy.target
    config:
      provider: digitalocean
      region: ams
      settings: { token_secret: DO_TOKEN, api_url: "${apiUrl}", poll_interval_ms: 20, instance_size: apps-s-1vcpu-1gb }
pipelines:
  main:
    trigger: { type: manual }
    runs_on: [linux, docker]
    inputs:
      tag: { type: string, default: v1 }
    steps:
      - name: ship
        type: step.deploy
        config:
          target: app-platform
          image: "registry.digitalocean.com/acme/web:{{ .Inputs.tag }}"
          environment: staging
          replicas: 2
`;

before(async () => {
  [plugin, cloud, server] = await Promise.all([buildDeployPlugin('deploy-digitalocean'), startDigitalOceanStandIn(TOKEN), startTestServer()]);
  const uploaded = await fetch(`${server.url}/api/plugins/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/gzip' },
    body: new Uint8Array(plugin.archive),
  });
  assert.equal(uploaded.status, 201, await uploaded.text());
  const environment = await server.call('POST', '/api/environments', {
    name: 'staging',
    provider: 'digitalocean',
    config: {},
    allowedWorkflows: ['do-deploy'],
    secrets: { DO_TOKEN: TOKEN },
  });
  assert.equal(environment.status, 201, await environment.clone().text());
  workflowId = await publishWorkflow(server, 'do-deploy', workflow(cloud.url));
  runner = await runnerFor(server, 'deploy-plugin');
  hostDir = await mkdtemp(join(tmpdir(), 'deploy-plugin-'));
  host = new PluginHost({ dataDir: hostDir, fetchArchive: async () => ({ digest: plugin.digest, archiveBase64: plugin.archive.toString('base64') }) });
});

after(async () => {
  await runner?.stop();
  await host?.stop();
  await server?.close();
  await cloud?.close();
  if (hostDir) await rm(hostDir, { recursive: true, force: true });
});

async function deployTag(tag: string) {
  const run = await waitForRun(server, (await startRun(server, workflowId, { tag })).id, finished, 45_000);
  return { run, ship: run.steps.find((s: { name: string }) => s.name === 'ship'), log: await rawLog(server, run.id, 'ship') };
}

/** The runner's DeployProvider for the same target, over the same plugin (its own process, started by this host). */
function provider(): DeployProvider {
  const ref: PluginStepRef = {
    name: plugin.manifest.name,
    version: plugin.manifest.version,
    digest: plugin.digest,
    runtime: plugin.manifest.deploy_providers[0]!.runtime,
  };
  const target = { provider: 'digitalocean', region: 'ams', settings: { token_secret: 'DO_TOKEN', api_url: cloud.url, poll_interval_ms: 20 } };
  return createProvider(target, docker, { plugin: ref.name, connect: () => host.deployClient(ref, 'digitalocean'), secrets: { DO_TOKEN: TOKEN } });
}

const liveImage = () => [...cloud.apps.values()][0]!.spec.services[0]!.image;

test('a published workflow deploys through the plugin; status, rollback and metrics go through the same interface', async () => {
  const first = await deployTag('v1');
  assert.equal(first.run.state, 'succeeded', `${JSON.stringify(first.run.steps)}\n${first.log}`);
  assert.equal(first.ship.outputs.status, 'deployed');
  assert.equal(first.ship.outputs.version, 'v1');
  assert.match(first.ship.outputs.url, /^https:\/\/acme-web-staging-\w+\.ondigitalocean\.app$/);
  assert.match(first.log, /creating App Platform app acme-web-staging with registry\.digitalocean\.com\/acme\/web:v1 \(2 × apps-s-1vcpu-1gb\)/);
  assert.match(first.log, /deployment [\w-]+: ACTIVE/);
  assert.match(first.log, /deploy provider digitalocean from plugin flowyard\/digitalocean@0\.1\.0\n/);
  const [app] = [...cloud.apps.values()];
  assert.equal(app!.spec.region, 'ams');
  assert.deepEqual(app!.spec.services[0]!.image, { registry_type: 'DOCR', repository: 'web', tag: 'v1' });
  assert.equal(app!.spec.services[0]!.instance_count, 2);
  assert.ok(
    cloud.requests.every((r) => r.token === TOKEN),
    'the environment secret the settings name reached the plugin',
  );
  assert.ok(!first.log.includes(TOKEN));

  const second = await deployTag('v2');
  assert.equal(second.run.state, 'succeeded', second.log);
  assert.match(second.log, /updating App Platform app acme-web-staging/);

  const deploy = provider();
  assert.equal(await deploy.testConnection(), 'DigitalOcean account ops@example.com (active)');
  const status = await deploy.status('acme/web', 'staging');
  assert.equal(status.version, 'v2');
  assert.deepEqual(
    status.instances.map((i) => [i.version, i.state]),
    [
      ['v2', 'active'],
      ['v2', 'active'],
    ],
  );
  const metrics = await deploy.metrics('acme/web', 'staging');
  assert.deepEqual(
    metrics.map((m) => [m.id, m.cpuPercent, m.memoryBytes]),
    [
      ['web-0', 12.5, 512 * 1024 ** 2],
      ['web-1', 12.5, 512 * 1024 ** 2],
    ],
  );

  const lines: string[] = [];
  const rolledBack = await deploy.rollback('acme/web', 'staging', { log: (line) => lines.push(line), signal: new AbortController().signal });
  assert.deepEqual([rolledBack.status, rolledBack.version], ['rolled_back', 'v1'], lines.join('\n'));
  assert.match(lines.join('\n'), /rolling acme-web-staging back to deployment [\w-]+ \(v1\)/);
  assert.equal((await deploy.status('acme/web', 'staging')).version, 'v1');
  assert.equal(liveImage().tag, 'v1');
});

test('a deploy that fails its health check is rolled back and fails the step', async () => {
  const broken = await deployTag('broken-v3');
  assert.equal(broken.run.state, 'failed');
  assert.equal(broken.ship.outputs.status, 'rolled_back');
  assert.match(broken.ship.error, /deployment of acme\/web broken-v3 to staging failed: deployment [\w-]+ ended ERROR; rolled back to the previous version/);
  assert.match(broken.log, /deploy failed: health check failed: the component never answered on \/healthz/);
  assert.equal(liveImage().tag, 'v1', "the app's spec is the live deployment's again");
  assert.equal((await provider().status('acme/web', 'staging')).version, 'v1');
});

test('a wrong token is the API’s error, a missing secret names its setting, and a pinned plugin must declare the provider', async () => {
  const wrong = createProvider({ provider: 'digitalocean', settings: { token_secret: 'DO_TOKEN', api_url: cloud.url } }, docker, {
    plugin: plugin.manifest.name,
    connect: () =>
      host.deployClient(
        { name: plugin.manifest.name, version: plugin.manifest.version, digest: plugin.digest, runtime: plugin.manifest.deploy_providers[0]!.runtime },
        'digitalocean',
      ),
    secrets: { DO_TOKEN: 'not-the-token' },
  });
  await assert.rejects(wrong.testConnection(), /DigitalOcean API GET \/v2\/account: 401 Unable to authenticate you/);
  assert.throws(
    () =>
      createProvider({ provider: 'digitalocean', settings: { token_secret: 'DO_TOKEN' } }, docker, {
        plugin: 'x',
        connect: () => host.deployClient({} as never, ''),
        secrets: {},
      }),
    /settings\.token_secret names the secret DO_TOKEN, which this deploy step does not have/,
  );
  assert.throws(() => createProvider({ provider: 'digitalocean' }, docker), /comes from a plugin, and this deploy step carries none/);
  const ref: PluginStepRef = {
    name: plugin.manifest.name,
    version: plugin.manifest.version,
    digest: plugin.digest,
    runtime: plugin.manifest.deploy_providers[0]!.runtime,
  };
  await assert.rejects(
    host.deployClient(ref, 'aws_ecs'),
    /plugin flowyard\/digitalocean@0\.1\.0 provides no deploy provider aws_ecs \(it provides digitalocean\)/,
  );
});

test('every cloud plugin bundle serves its provider and calls its API with the credentials it was sent', async () => {
  const seen: Array<{ path: string; auth: string; body: string }> = [];
  const api = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ path: request.url ?? '', auth: String(request.headers.authorization ?? ''), body });
      response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'stand-in refuses', error: 'invalid_client' }));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serviceAccount = JSON.stringify({
    client_email: 'ci@project.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    token_uri: `${url}/token`,
  });
  const cases = [
    {
      folder: 'deploy-aws-ecs',
      target: {
        provider: 'aws_ecs',
        region: 'eu-west-1',
        settings: { cluster: 'c', access_key_id_secret: 'ID', secret_access_key_secret: 'KEY', endpoint: url },
      },
      secrets: { ID: 'AKIDSTANDIN', KEY: 'secret-key' },
      error: /AWS ecs DescribeClusters: 401/,
      sent: (r: { auth: string }) => r.auth.startsWith('AWS4-HMAC-SHA256 Credential=AKIDSTANDIN/'),
    },
    {
      folder: 'deploy-gcp-cloud-run',
      target: { provider: 'gcp_cloud_run', region: 'europe-west1', settings: { project: 'flowyard-test', credentials_secret: 'SA', api_url: url } },
      secrets: { SA: serviceAccount },
      error: /Google token exchange for ci@project\.iam\.gserviceaccount\.com: 401/,
      sent: (r: { path: string; body: string }) => r.path === '/token' && r.body.includes('grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer'),
    },
    {
      folder: 'deploy-azure-container-apps',
      target: {
        provider: 'azure_container_apps',
        region: 'westeurope',
        settings: {
          subscription_id: '00000000-0000-0000-0000-000000000000',
          resource_group: 'rg',
          managed_environment_id: '/subscriptions/x',
          tenant_id: 'tenant',
          client_id: 'client',
          client_secret_secret: 'AZ',
          login_url: url,
          management_url: url,
        },
      },
      secrets: { AZ: 'azure-secret' },
      error: /Microsoft Entra token for client client: 401/,
      sent: (r: { path: string; body: string }) => r.path === '/tenant/oauth2/v2.0/token' && r.body.includes('client_secret=azure-secret'),
    },
  ] as const;
  try {
    const bundles = await Promise.all(cases.map((c) => buildDeployPlugin(c.folder)));
    for (const [i, { folder, target, secrets, error, sent }] of cases.entries()) {
      const packed = bundles[i]!;
      const dir = await mkdtemp(join(tmpdir(), `${folder}-`));
      const own = new PluginHost({ dataDir: dir, fetchArchive: async () => ({ digest: packed.digest, archiveBase64: packed.archive.toString('base64') }) });
      try {
        const ref: PluginStepRef = {
          name: packed.manifest.name,
          version: packed.manifest.version,
          digest: packed.digest,
          runtime: packed.manifest.deploy_providers[0]!.runtime,
        };
        const provider = createProvider(target, docker, { plugin: ref.name, connect: () => own.deployClient(ref, target.provider), secrets });
        seen.length = 0;
        await assert.rejects(provider.testConnection(), error, folder);
        assert.ok(seen.some(sent), `${folder} sent its credentials: ${JSON.stringify(seen)}`);
      } finally {
        await own.stop();
        await rm(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await new Promise((resolve) => api.close(resolve));
  }
});
