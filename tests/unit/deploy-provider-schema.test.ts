/**
 * The workflow JSON Schema editors get (served per installed plugin set): deploy.target's provider offers docker and
 * the providers of installed plugins, and each provider's settings keys (an if/then on provider), so Monaco completes
 * them. Other names stay valid in the schema: the build's diagnostic names the plugin to install.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { workflowJsonSchema } from '../../server/engine/json-schema.ts';
import { languageFor } from '../../server/engine/plugin-language.ts';
import { pluginManifestSchema, type InstalledPlugin } from '../../server/engine/plugin-manifest.ts';

const EXAMPLES = join(import.meta.dirname, '../../examples/plugins');

async function installed(folder: string): Promise<InstalledPlugin> {
  const manifest = pluginManifestSchema.parse(parse(await readFile(join(EXAMPLES, folder, 'plugin.yaml'), 'utf8')));
  return { name: manifest.name, version: manifest.version, digest: `sha256:${'2'.repeat(64)}`, manifest };
}

type Schema = Record<string, any>;
const deployTargetConfig = (schema: Schema): Schema =>
  schema.properties.modules.items.oneOf.find((variant: Schema) => variant.properties.type.const === 'deploy.target').properties.config;

test('with no plugin, provider offers docker and still accepts any provider name (the build names the plugin to install)', () => {
  const config = deployTargetConfig(workflowJsonSchema());
  assert.deepEqual(
    config.properties.provider.anyOf.filter((o: Schema) => 'const' in o).map((o: Schema) => o.const),
    ['docker'],
  );
  const fallback = config.properties.provider.anyOf.find((o: Schema) => !('const' in o));
  assert.deepEqual([fallback.type, new RegExp(fallback.pattern).test('aws_ecs'), new RegExp(fallback.pattern).test('Not A Name')], ['string', true, false]);
  assert.equal(config.allOf, undefined, 'no provider settings to offer');
});

test("installed plugins' providers are offered with their descriptions, and each provider's settings keys under an if/then", async () => {
  const language = languageFor([await installed('deploy-digitalocean'), await installed('deploy-aws-ecs')]);
  const schema = workflowJsonSchema('http://127.0.0.1/api/schema/workflow.json', language);
  const config = deployTargetConfig(schema);
  const offered = config.properties.provider.anyOf.filter((o: Schema) => 'const' in o);
  assert.deepEqual(
    offered.map((o: Schema) => o.const),
    ['docker', 'digitalocean', 'aws_ecs'],
  );
  assert.match(offered[1].description, /App Platform.*\(plugin flowyard\/digitalocean 0\.1\.0\)/);

  const settingsOf = (provider: string) => config.allOf.find((branch: Schema) => branch.if.properties.provider.const === provider).then.properties.settings;
  assert.deepEqual(Object.keys(settingsOf('digitalocean').properties).slice(0, 3), ['token_secret', 'app_name', 'instance_size']);
  assert.ok(settingsOf('aws_ecs').properties.cluster, 'the aws_ecs settings keys');
  assert.equal(settingsOf('aws_ecs').additionalProperties, false, 'strict, as the build checks them');
  assert.deepEqual(settingsOf('aws_ecs').required, ['cluster', 'access_key_id_secret', 'secret_access_key_secret']);
  assert.deepEqual(config.allOf[0].if.required, ['provider'], 'a branch applies only where provider names it');

  assert.equal(deployTargetConfig(workflowJsonSchema()).allOf, undefined, 'the built-in schema is not changed by a plugin language');
});
