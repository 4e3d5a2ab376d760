import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { latestSlot, validationWorkflowName, validationWorkflowYaml } from '../../server/services/plugin-validation.ts';

test('the example becomes the system workflow: its name, no triggers, the first pipeline run', () => {
  const example = `# the smallest real use
name: acme-minimal
triggers:
  - { type: schedule, pipeline: second, cron: "* * * * *" }
pipelines:
  first:
    trigger: { type: http, config: { path: /hooks-of-the-author } }
    steps: [{ name: a, type: step.log, config: { message: hi } }]
  second:
    trigger: { type: schedule, config: { cron: "0 * * * *" } }
    steps: [{ name: b, type: step.log, config: { message: hi } }]
`;
  const prepared = validationWorkflowYaml(example, validationWorkflowName('acme/http-check'));
  assert.ok(prepared.ok);
  assert.equal(prepared.pipeline, 'first');
  const workflow = parse(prepared.yaml);
  assert.equal(workflow.name, 'plugin-validation--acme--http-check');
  assert.equal(workflow.triggers, undefined);
  assert.deepEqual(Object.keys(workflow.pipelines), ['first', 'second']);
  assert.equal(workflow.pipelines.first.trigger, undefined);
  assert.equal(workflow.pipelines.second.trigger, undefined);
  assert.match(prepared.yaml, /^# the smallest real use/, 'comments are kept');
});

test('an example that cannot be run says why', () => {
  const broken = validationWorkflowYaml('name: [unclosed', 'w');
  assert.ok(!broken.ok && /examples\/minimal\/config\.yaml is not valid YAML/.test(broken.error));
  const empty = validationWorkflowYaml('name: x\npipelines: {}\n', 'w');
  assert.ok(!empty.ok && /has no pipelines to run/.test(empty.error));
  const scalar = validationWorkflowYaml('just text', 'w');
  assert.ok(!scalar.ok);
});

test('the latest weekly slot, in UTC; a bad cron expression names the setting', () => {
  assert.equal(latestSlot('0 3 * * 1', new Date('2026-11-29T12:00:00Z'))?.toISOString(), '2026-11-23T03:00:00.000Z', 'the Monday before that Sunday');
  assert.equal(latestSlot('0 3 * * 1', new Date('2026-11-30T03:00:00Z'))?.toISOString(), '2026-11-30T03:00:00.000Z', 'a slot is due at its own time');
  assert.throws(() => latestSlot('99 * * * *', new Date()), /FLOWYARD_PLUGIN_VALIDATION_CRON "99 \* \* \* \*" is not a cron expression/);
});
