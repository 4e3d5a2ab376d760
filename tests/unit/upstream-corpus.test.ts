import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { buildWorkflow } from '../../server/engine/build.ts';

const CORPUS = join(import.meta.dirname, '../fixtures/upstream');
const BY_HAND = join(CORPUS, 'by-hand');

/**
 * The upstream documentation gives step fragments (a list of steps, or `steps:`); they are placed in a
 * one-pipeline workflow, as a user pasting them would. Whole files (with `pipelines:`) are built as they are.
 */
function asWorkflow(text: string): string {
  const value = parse(text) as unknown;
  if (Array.isArray(value)) return `pipelines:\n  fragment:\n    steps:\n${indent(text, 6)}`;
  if (value && typeof value === 'object' && 'steps' in value && !('pipelines' in value)) return `pipelines:\n  fragment:\n${indent(text, 4)}`;
  return text;
}

const indent = (text: string, spaces: number) =>
  text
    .split('\n')
    .map((line) => (line ? ' '.repeat(spaces) + line : line))
    .join('\n');
const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

/**
 * Verbatim examples Flowyard refuses on purpose, with the only kinds of error each may have. Everything else in
 * them (their pipelines) must build: the refusals are about what Flowyard does not run, not about the format.
 */
const REFUSED: Record<string, { codes: string[]; why: string }> = {
  'cicd_plan-L364-deploy.yaml': {
    codes: ['deploy_provider_plugin_missing'],
    why: 'deploys to AWS ECS, a provider of the flowyard/aws-ecs plugin, which it does not require',
  },
  'documentation-L550-set.yaml': {
    codes: ['unknown_step_reference'],
    why: 'reads a step "auth" that the fragment lacks (the upstream example is about a typo)',
  },
  'example-data-sync-pipeline.yaml': {
    codes: ['unknown_module_type', 'not_implemented'],
    why: 'is an HTTP server application: upstream module types and application workflows Flowyard does not run',
  },
  'example-openapi-jsonapi-articles.yaml': { codes: ['unknown_module_type'], why: 'is an HTTP server application' },
  'example-webhook-pipeline.yaml': { codes: ['unknown_module_type', 'not_implemented'], why: 'is an HTTP server application with application workflows' },
  'example-workflow-a-orders-with-branching.yaml': { codes: ['unknown_module_type', 'missing_field'], why: 'is a module graph application without pipelines' },
  'example-workflow-b-fulfillment-with-branching.yaml': {
    codes: ['unknown_module_type', 'missing_field'],
    why: 'is a module graph application without pipelines',
  },
  'example-workflow-c-notifications-with-branching.yaml': {
    codes: ['unknown_module_type', 'missing_field'],
    why: 'is a module graph application without pipelines',
  },
};

describe('upstream corpus: verbatim GoCodeAlone/workflow examples load', () => {
  for (const file of yamlFiles(CORPUS)) {
    const refused = REFUSED[file];
    test(refused ? `${file} is refused only because it ${refused.why}` : file, () => {
      const result = buildWorkflow(asWorkflow(readFileSync(join(CORPUS, file), 'utf8')), file);
      const errors = result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`);
      if (!refused) {
        assert.deepEqual(errors, []);
        assert.equal(result.ok, true);
        return;
      }
      assert.equal(result.ok, false);
      assert.deepEqual(
        errors.filter((e) => !refused.codes.includes(e.split(' ')[1]!.slice(0, -1))),
        [],
      );
    });
  }

  test('the refusals name files that exist', () => {
    for (const file of Object.keys(REFUSED)) assert.ok(yamlFiles(CORPUS).includes(file), file);
  });
});

describe('upstream format written by hand: every in-scope step type with upstream field names', () => {
  for (const file of yamlFiles(BY_HAND)) {
    test(file, () => {
      const result = buildWorkflow(readFileSync(join(BY_HAND, file)), file);
      assert.deepEqual(
        result.diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
      assert.equal(result.ok, true);
    });
  }
});
