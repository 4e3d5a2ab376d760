import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildWorkflow, type BuildResult } from '../../server/engine/build.ts';
import { workflowJsonSchema } from '../../server/engine/json-schema.ts';
import { languageFor } from '../../server/engine/plugin-language.ts';
import { pluginManifestSchema, type InstalledPlugin } from '../../server/engine/plugin-manifest.ts';
import { newestPlugins } from '../../server/engine/plugin-requires.ts';
import { strictJsonSchema } from '../../server/engine/plugin-steps.ts';
import { httpCheckManifest } from '../helpers/http-check-manifest.ts';

function httpCheck(version: string, extra: Record<string, unknown> = {}): InstalledPlugin {
  const manifest = httpCheckManifest(version, {
    properties: {
      retry: { type: 'object', properties: { attempts: { type: 'integer' }, delay: { type: 'string' } } },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      ...extra,
    },
    outputs: { status: { description: 'HTTP status' }, timing: { description: 'timings', fields: ['total_ms', 'connect_ms'] } },
  });
  return { name: manifest.name, version, digest: `sha256:${version.replace(/\./g, '').padStart(64, 'a')}`, manifest };
}

const kv: InstalledPlugin = (() => {
  const manifest = pluginManifestSchema.parse({
    name: 'acme/kv',
    version: '0.3.0',
    description: 'Key-value store',
    license: 'MIT',
    steps: [
      {
        type: 'step.kv_put',
        description: 'Put a value',
        config: { type: 'object', required: ['key'], properties: { key: { type: 'string' }, value: { type: 'string' } } },
        outputs: { stored: { description: 'true when stored' } },
        runtime: { kind: 'remote', command: ['node', 'server.js'] },
      },
      {
        type: 'step.log',
        description: 'A step type that tries to replace a built-in one',
        config: { type: 'object', properties: {} },
        runtime: { kind: 'remote', command: ['node', 'server.js'] },
      },
    ],
  });
  return { name: manifest.name, version: manifest.version, digest: `sha256:${'b'.repeat(64)}`, manifest };
})();

const installed = [httpCheck('1.0.0'), httpCheck('1.2.0'), httpCheck('2.0.0'), kv];

const workflow = (requires: string, steps: string) => `name: w\n${requires}pipelines:\n  main:\n    steps:\n${steps}`;
const requireHttp = (range = '^1.0.0') => `requires:\n  plugins:\n    - name: acme/http-check\n      version: "${range}"\n`;
const checkStep = (config = '{ url: "http://127.0.0.1:8080/healthz" }') => `      - name: check\n        type: step.http_check\n        config: ${config}\n`;
const logStep = (message: string) => `      - name: report\n        type: step.log\n        config: { message: "${message}" }\n`;

const build = (yaml: string, plugins: readonly InstalledPlugin[] = installed) => buildWorkflow(yaml, undefined, { plugins });
const errors = (result: BuildResult) => result.diagnostics.filter((d) => d.severity === 'error');
const ok = (result: BuildResult) => {
  assert.deepEqual(errors(result), []);
  assert.equal(result.ok, true);
  return result as Extract<BuildResult, { ok: true }>;
};

describe('plugin step types in the engine', () => {
  test('a required plugin step builds, with the highest installed version in range pinned and bound to the step', () => {
    const result = ok(build(workflow(requireHttp('^1.0.0'), checkStep())));
    assert.deepEqual(result.pluginPins, [{ name: 'acme/http-check', version: '1.2.0', digest: httpCheck('1.2.0').digest }]);
    const step = result.workflow.pipelines.main!.steps[0] as { config: Record<string, unknown>; plugin?: unknown };
    assert.deepEqual(step.config, { url: 'http://127.0.0.1:8080/healthz', expect_status: 200 });
    assert.deepEqual(step.plugin, { ...result.pluginPins[0], runtime: { kind: 'container', image: 'acme/http-check:1.2.0' } });
    assert.ok(result.available.stepTypes.includes('step.http_check'));
    assert.deepEqual(result.plan.pipelines[0]!.steps[0]!.outputs, ['status', 'timing']);
  });

  test('plain strings and owner/name@range work as requirements too', () => {
    assert.equal(ok(build(workflow('requires:\n  plugins: ["acme/http-check@~2.0"]\n', checkStep()))).pluginPins[0]!.version, '2.0.0');
    assert.equal(ok(build(workflow('requires:\n  plugins: [acme/http-check]\n', checkStep()))).pluginPins[0]!.version, '2.0.0');
  });

  test('config errors have line, column and field, with did-you-mean for misspelt keys at every level', () => {
    const result = build(workflow(requireHttp(), checkStep('{ url: "http://x", expect_statuz: 200, retry: { atempts: 3 } }')));
    assert.equal(result.ok, false);
    const found = errors(result).map((d) => ({ code: d.code, path: d.path, line: d.line, column: d.column, message: d.message }));
    assert.equal(found.length, 2);
    assert.equal(found[0]!.path, 'pipelines.main.steps[0].config.expect_statuz');
    assert.equal(found[0]!.line, 11);
    assert.equal(found[0]!.column, 36);
    assert.match(found[0]!.message, /unknown field "expect_statuz"; did you mean "expect_status"\?/);
    assert.equal(found[1]!.path, 'pipelines.main.steps[0].config.retry.atempts');
    assert.match(found[1]!.message, /did you mean "attempts"/);
    const typed = errors(build(workflow(requireHttp(), checkStep('{ url: 42, expect_status: 999 }'))));
    assert.deepEqual(
      typed.map((d) => d.path),
      ['pipelines.main.steps[0].config.url', 'pipelines.main.steps[0].config.expect_status'],
    );
    assert.match(typed[0]!.message, /"url": expected string/);
    const missing = errors(build(workflow(requireHttp(), checkStep('{ expect_status: 200 }'))));
    assert.match(missing[0]!.message, /missing required field "url"/);
    // A map (schema-valued additionalProperties) keeps its keys as data.
    ok(build(workflow(requireHttp(), checkStep('{ url: "http://x", headers: { X-Token: abc } }'))));
  });

  test('a misspelt plugin step type gets a did-you-mean and the quick fix', () => {
    const [d] = errors(build(workflow(requireHttp(), checkStep().replace('step.http_check', 'step.http_chek'))));
    assert.equal(d!.code, 'unknown_step_type');
    assert.match(d!.message, /did you mean "step.http_check"\?/);
    assert.deepEqual(d!.fix, { replace: 'step.http_check' });
  });

  test('plugin outputs are usable in templates and checked', () => {
    ok(build(workflow(requireHttp(), checkStep() + logStep('{{ .steps.check.status }} in {{ .steps.check.timing.total_ms }} ms'))));
    const [wrong, field] = errors(build(workflow(requireHttp(), checkStep() + logStep('{{ .steps.check.statsu }} {{ .steps.check.timing.total }}'))));
    assert.match(wrong!.message, /step "check" \(step.http_check\) has no output "statsu"; did you mean "status"\?/);
    assert.match(field!.message, /output "timing" of step "check" has no field "total"/);
  });

  test('a step type neither built in nor provided by an installed plugin says so, and the requirement names what to install', () => {
    const result = build(
      workflow(
        'requires:\n  plugins:\n    - name: acme/slack\n      version: ^3.1.0\n',
        '      - name: notify\n        type: step.slack_post\n        config: {}\n',
      ),
    );
    const [entry, step] = errors(result);
    assert.equal(entry!.code, 'plugin_not_installed');
    assert.equal(entry!.path, 'requires.plugins[0]');
    assert.equal(entry!.message, 'plugin acme/slack is not installed; install acme/slack@^3.1.0');
    assert.equal(step!.code, 'unknown_step_type');
    assert.match(step!.message, /neither built in nor provided by an installed plugin; it may come from acme\/slack@\^3.1.0/);
  });

  test('no installed version in range names the installed ones and the range to install', () => {
    const [entry] = errors(build(workflow(requireHttp('^3.0.0'), checkStep())));
    assert.equal(entry!.code, 'plugin_not_installed');
    assert.equal(entry!.path, 'requires.plugins[0].version');
    assert.match(
      entry!.message,
      /no installed version of plugin acme\/http-check is in the range "\^3.0.0" \(installed: 2.0.0, 1.2.0, 1.0.0\); install acme\/http-check@\^3.0.0/,
    );
    assert.equal(errors(build(workflow(requireHttp('not a range'), checkStep())))[0]!.code, 'invalid_version_range');
  });

  test('a required plugin that no step uses and that is not installed is a warning; upstream plugin names are information', () => {
    const result = ok(build(workflow('requires:\n  plugins:\n    - name: acme/slack\n    - name: pipeline-steps\n', logStep('hi'))));
    assert.deepEqual(
      result.diagnostics.map((d) => [d.severity, d.code]),
      [
        ['warning', 'plugin_not_installed'],
        ['info', 'upstream_plugin'],
      ],
    );
    assert.deepEqual(result.pluginPins, []);
  });

  test('a plugin step whose plugin is installed but not required says which entry to add', () => {
    const [d] = errors(build(workflow('', checkStep())));
    assert.equal(d!.code, 'plugin_not_required');
    assert.equal(d!.path, 'pipelines.main.steps[0].type');
    assert.match(d!.message, /add \{ name: acme\/http-check, version: "\^2.0.0" \} under requires.plugins/);
  });

  test('a plugin may not shadow a built-in step type', () => {
    const result = build(workflow('requires:\n  plugins: [acme/kv]\n', logStep('still the built-in')));
    const [d] = errors(result);
    assert.equal(d!.code, 'plugin_shadows_builtin');
    assert.match(d!.message, /plugin acme\/kv declares step.log, a built-in step type/);
    // Without the requirement, the built-in is used and the declaration ignored.
    const plain = ok(build(workflow('', logStep('built-in'))));
    assert.equal((plain.workflow.pipelines.main!.steps[0] as { plugin?: unknown }).plugin, undefined);
  });

  test('without plugins, or with other versions pinned, the build uses exactly what it is given', () => {
    const pinned = ok(build(workflow(requireHttp('^1.0.0'), checkStep()), [httpCheck('1.0.0')]));
    assert.equal(pinned.pluginPins[0]!.version, '1.0.0');
    assert.equal(errors(build(workflow(requireHttp(), checkStep()), []))[0]!.code, 'plugin_not_installed');
  });

  test('the language of a plugin set is built once per set (names, versions, digests)', () => {
    const a = languageFor([httpCheck('1.2.0')]);
    assert.equal(languageFor([httpCheck('1.2.0')]), a);
    assert.notEqual(languageFor([httpCheck('1.0.0')]), a);
    assert.notEqual(languageFor([{ ...httpCheck('1.2.0'), digest: `sha256:${'c'.repeat(64)}` }]), a);
  });

  test('strictness is forced: additionalProperties true or absent becomes false at every object level', () => {
    const strict = strictJsonSchema({
      type: 'object',
      additionalProperties: true,
      properties: { a: { type: 'object', properties: { b: { type: 'array', items: { type: 'object', properties: {} } } } } },
    }) as Record<string, any>;
    assert.equal(strict.additionalProperties, false);
    assert.equal(strict.properties.a.additionalProperties, false);
    assert.equal(strict.properties.a.properties.b.items.additionalProperties, false);
  });

  test('the editor schema has the plugin step types, with their config descriptions', () => {
    const schema = JSON.stringify(workflowJsonSchema(undefined, languageFor(newestPlugins(installed))));
    assert.match(schema, /step.http_check/);
    assert.match(schema, /The URL to call/);
    assert.match(schema, /acme\/http-check 2.0.0/);
    assert.match(schema, /"examples":\["acme\/http-check","acme\/kv"\]/); // requires.plugins names are completed
    assert.doesNotMatch(JSON.stringify(workflowJsonSchema()), /step.http_check/);
  });

  test('a plugin config schema the engine cannot use is an error at the step, not a crash', () => {
    const broken = httpCheck('1.3.0', { bad: { $ref: 'https://example.com/schema.json' } });
    const [d] = errors(build(workflow(requireHttp(), checkStep()), [broken]));
    assert.match(d!.message, /the config schema of step.http_check in plugin acme\/http-check@1.3.0 cannot be used/);
  });
});
