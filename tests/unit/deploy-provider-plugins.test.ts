// Deploy providers from plugins in the engine: plugin.yaml's deploy_providers, deploy.target's provider and settings
// checked at build time against the cloud plugins' real manifests (examples/plugins/deploy-*), the pin a deploy carries,
// and the validation matrix keeping a cloud plugin with no attached environment experimental (real libSQL).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { signV4 } from '../../examples/plugins/deploy-aws-ecs/sigv4.ts';
import { namedSecrets } from '../../runners/deploy/plugin-provider.ts';
import { buildWorkflow } from '../../server/engine/build.ts';
import type { Diagnostic } from '../../server/engine/diagnostics.ts';
import { type InstalledPlugin, MINIMAL_EXAMPLE_PATH, pluginManifestSchema } from '../../server/engine/plugin-manifest.ts';
import { cloudProviderPlugins } from '../../server/engine/schema/modules.ts';
import { validateDuePlugins } from '../../server/services/plugin-validation.ts';
import { DEPLOY_PLUGINS, EXAMPLE_PLUGINS_DIR, packExamplePlugin } from '../../scripts/build-example-plugins.ts';
import { TEST_ADMIN_TOKEN, testApi, type TestApi } from '../helpers/api.ts';

const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

async function cloudPlugins(): Promise<InstalledPlugin[]> {
  return Promise.all(
    DEPLOY_PLUGINS.map(async (folder, i) => {
      const manifest = pluginManifestSchema.parse(parse(await readFile(join(EXAMPLE_PLUGINS_DIR, folder, 'plugin.yaml'), 'utf8')));
      return { name: manifest.name, version: manifest.version, digest: digest(i + 1), manifest };
    }),
  );
}

let installed: InstalledPlugin[];
before(async () => {
  installed = await cloudPlugins();
});

const workflow = (settings: string, requires = '    - { name: flowyard/digitalocean, version: ^0.1.0 }\n') => `name: do-deploy
requires:
  plugins:
${requires}modules:
  - name: app-platform
    type: deploy.target
    config:
      provider: digitalocean
      settings:
${settings}pipelines:
  main:
    trigger: { type: manual }
    steps:
      - name: ship
        type: step.deploy
        config: { target: app-platform, image: "registry.digitalocean.com/acme/web:v1", environment: staging }
`;

const errors = (yaml: string, plugins = installed): Diagnostic[] =>
  buildWorkflow(yaml, undefined, { plugins }).diagnostics.filter((d) => d.severity === 'error');

describe('deploy.target with a plugin provider at build time', () => {
  test('an unknown setting is an error at its line and column, with did-you-mean', () => {
    const [unknown, ...rest] = errors(workflow('        token_secret: DO_TOKEN\n        app_nam: web\n'));
    assert.deepEqual(rest, []);
    assert.equal(unknown!.code, 'unknown_key');
    assert.deepEqual([unknown!.line, unknown!.column], [12, 9]);
    assert.match(unknown!.message, /^unknown setting "app_nam" of deploy provider digitalocean \(plugin flowyard\/digitalocean\); did you mean "app_name"\?/);
  });

  test('a missing required setting and a value of the wrong type are errors where they are', () => {
    const missing = errors(workflow('        app_name: web\n'));
    assert.deepEqual(
      missing.map((d) => [d.code, d.line, d.message]),
      [['missing_field', 10, 'deploy provider digitalocean (plugin flowyard/digitalocean) needs settings.token_secret']],
    );
    const wrong = errors(workflow('        token_secret: DO_TOKEN\n        http_port: eighty\n'));
    assert.deepEqual(
      wrong.map((d) => [d.code, d.line, d.column]),
      [['invalid_value', 12, 20]],
    );
    assert.match(wrong[0]!.message, /^settings\.http_port: .*number.* \(deploy provider digitalocean/);
  });

  test('a valid target builds; the deploy carries the pinned plugin and its runtime, and publish pins the plugin', () => {
    const result = buildWorkflow(workflow('        token_secret: DO_TOKEN\n        instance_size: apps-s-1vcpu-1gb\n'), undefined, { plugins: installed });
    assert.ok(result.ok, JSON.stringify(result.diagnostics));
    const ship = result.workflow.pipelines.main!.steps[0]!;
    const doPlugin = installed.find((p) => p.name === 'flowyard/digitalocean')!;
    assert.deepEqual(ship.plugin, {
      name: 'flowyard/digitalocean',
      version: '0.1.0',
      digest: doPlugin.digest,
      runtime: { kind: 'remote', command: ['node', 'dist/provider.cjs'], transport: 'unix' },
    });
    assert.deepEqual(result.pluginPins, [{ name: 'flowyard/digitalocean', version: '0.1.0', digest: doPlugin.digest }]);
  });

  test('a cloud provider without its plugin names the plugin to install; a typo gets did-you-mean', () => {
    for (const [provider, plugin] of Object.entries(cloudProviderPlugins)) {
      const yaml = workflow('        token_secret: T\n', '    []\n').replace('provider: digitalocean', `provider: ${provider}`);
      const [missing, ...rest] = errors(yaml, []);
      assert.deepEqual(rest, []);
      assert.equal(missing!.code, 'deploy_provider_plugin_missing');
      assert.deepEqual([missing!.line, missing!.column], [9, 17]);
      assert.match(missing!.message, new RegExp(`comes from plugin ${plugin}, which is not installed or not listed; install ${plugin}`));
    }
    const [typo] = errors(workflow('        token_secret: T\n').replace('provider: digitalocean', 'provider: digitalocen'));
    assert.equal(typo!.code, 'unknown_deploy_provider');
    assert.match(typo!.message, /unknown deploy provider "digitalocen"; did you mean "digitalocean"\?/);
  });

  test('a provider from an installed plugin that requires.plugins does not list is an error naming the entry to add', () => {
    const [notRequired] = errors(workflow('        token_secret: T\n', '    []\n'));
    assert.equal(notRequired!.code, 'plugin_not_required');
    assert.match(notRequired!.message, /comes from plugin flowyard\/digitalocean, which requires\.plugins does not list; add \{ name: flowyard\/digitalocean/);
  });

  test('provider docker stays built in: a docker workflow builds the same with or without the cloud plugins', () => {
    const docker = `name: web
modules:
  - { name: local, type: deploy.target, config: { provider: docker } }
pipelines:
  main:
    steps:
      - { name: ship, type: step.deploy, config: { target: local, image: "web:1", environment: staging } }
`;
    const plain = buildWorkflow(docker);
    const withPlugins = buildWorkflow(docker, undefined, { plugins: installed });
    assert.ok(plain.ok && withPlugins.ok);
    assert.deepEqual(withPlugins.workflow, plain.workflow);
    assert.equal(plain.workflow.pipelines.main!.steps[0]!.plugin, undefined);
  });
});

describe('the deploy provider plugins', () => {
  test('each manifest declares one provider, and its minimal example builds against it', async () => {
    assert.deepEqual(
      installed.map((p) => p.manifest.deploy_providers.map((d) => d.name)).flat(),
      Object.keys(cloudProviderPlugins).sort((a, b) => order(a) - order(b)),
    );
    for (const plugin of installed) {
      assert.equal(plugin.name, cloudProviderPlugins[plugin.manifest.deploy_providers[0]!.name as keyof typeof cloudProviderPlugins]);
      const folder = DEPLOY_PLUGINS[installed.indexOf(plugin)]!;
      const example = await readFile(join(EXAMPLE_PLUGINS_DIR, folder, MINIMAL_EXAMPLE_PATH), 'utf8');
      const built = buildWorkflow(example, undefined, { plugins: installed });
      assert.ok(built.ok, `${folder}: ${JSON.stringify(built.diagnostics)}`);
      assert.match(example, /secrets: \[/, `${folder}'s example takes its credentials from the validation environment`);
    }
  });

  test('the manifest contract: docker cannot be provided, a provider is named once, a plugin provides something', () => {
    const base = { name: 'acme/cloud', version: '1.0.0', description: 'd', license: 'MIT' };
    const provider = (name: string) => ({ name, description: 'p', settings: { type: 'object' }, runtime: { kind: 'remote', command: ['node', 'p.cjs'] } });
    const messages = (manifest: unknown) => {
      const parsed = pluginManifestSchema.safeParse(manifest);
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.deepEqual(messages({ ...base, deploy_providers: [provider('docker')] }), [
      'deploy_providers.0.name: docker is the built-in deploy provider; a plugin may not provide it',
    ]);
    assert.deepEqual(messages({ ...base, deploy_providers: [provider('fly'), provider('fly')] }), [
      'deploy_providers.1.name: deploy provider fly is declared twice',
    ]);
    assert.deepEqual(messages(base), ['steps: a plugin provides at least one step type or deploy provider']);
    assert.match(
      messages({ ...base, deploy_providers: [{ ...provider('fly'), runtime: { kind: 'container', image: 'x' } }] })[0]!,
      /^deploy_providers\.0\.runtime/,
    );
    assert.match(messages({ ...base, deploy_providers: [{ ...provider('fly'), extra: 1 }] })[0]!, /Unrecognized key/);
  });
});

test('a plugin provider is sent only the secrets its settings name', () => {
  const available = { DO_TOKEN: 'token-value', REGISTRY_PASSWORD: 'other-value' };
  const target = { provider: 'digitalocean', settings: { token_secret: 'DO_TOKEN', app_name: 'REGISTRY_PASSWORD' } };
  assert.deepEqual(namedSecrets(target, available), { DO_TOKEN: 'token-value' }, 'only settings ending in _secret name secrets');
  assert.throws(
    () => namedSecrets({ provider: 'digitalocean', settings: { token_secret: 'MISSING' } }, available),
    /settings\.token_secret names the secret MISSING, which this deploy step does not have/,
  );
});

test("aws-ecs signs its calls with Signature Version 4: AWS's published post-vanilla example", () => {
  const headers = signV4(
    new URL('https://example.amazonaws.com/'),
    '',
    {},
    { id: 'AKIDEXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    'us-east-1',
    'service',
    new Date('2015-08-30T12:36:00Z'),
  );
  assert.equal(
    headers.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
  );
  assert.equal(headers['x-amz-date'], '20150830T123600Z');
});

const order = (name: string) => ['digitalocean', 'aws_ecs', 'gcp_cloud_run', 'azure_container_apps'].indexOf(name);

describe('the validation matrix and a cloud provider plugin', () => {
  let api: TestApi;
  before(async () => {
    api = await testApi();
  });
  after(async () => {
    api?.database.cleanup();
  });

  test('with no environment attached, a scheduled validation reports not validated and the plugin stays experimental', async () => {
    const packed = await packExamplePlugin('deploy-digitalocean');
    const uploaded = await api.app.request('/api/plugins/upload', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/gzip' },
      body: new Uint8Array(packed.archive),
    });
    assert.equal(uploaded.status, 201, await uploaded.clone().text());
    await api.database.client.execute({
      sql: 'update plugins set created_at = ? where name = ?',
      args: [Date.now() - 14 * 24 * 3600_000, 'flowyard/digitalocean'],
    });
    const { secretsKeyFrom } = await import('../../server/services/secrets.ts');
    const { serverSecret } = await import('../../server/cli/deps.ts');
    const deps = { db: api.database.db, events: api.events, secretsKey: await secretsKeyFrom(serverSecret(api.database.dir, {})) };
    assert.equal(await validateDuePlugins(deps, '0 3 * * 1'), 0, 'no run: there is no account to run the example against');
    const history = await (await api.call('GET', '/api/plugin-validations/flowyard/digitalocean')).json();
    assert.equal(history.status, 'experimental');
    assert.deepEqual(
      history.results.map((r: { result: string; version: string }) => [r.result, r.version]),
      [['not_validated', '0.1.0']],
    );
    assert.match(history.results[0].detail, /no validation environment is attached: the status is kept/);
  });
});
