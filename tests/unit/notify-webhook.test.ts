import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildWorkflow } from '../../server/engine/build.ts';
import { workflowJsonSchema } from '../../server/engine/json-schema.ts';

const yaml = `name: notifying
modules:
  - name: chat
    type: notify.webhook
    config: { url: "http://127.0.0.1:9/hook", events: [run.failed] }
pipelines:
  build:
    steps:
      - name: say
        type: step.log
        config: { message: hi }
`;

test('a notify.webhook module is refused at its type with "not supported yet", not accepted and never sent', () => {
  const result = buildWorkflow(yaml);
  assert.equal(result.ok, false);
  const found = result.diagnostics.filter((d) => d.code === 'unknown_module_type');
  assert.equal(found.length, 1, JSON.stringify(result.diagnostics));
  const [diagnostic] = found;
  assert.equal(diagnostic!.severity, 'error');
  assert.match(diagnostic!.message, /^notify\.webhook is not supported yet/);
  assert.deepEqual({ line: diagnostic!.line, column: diagnostic!.column }, { line: 4, column: 11 });
});

test('the JSON Schema served to editors no longer offers notify.webhook', () => {
  assert.doesNotMatch(JSON.stringify(workflowJsonSchema()), /notify\.webhook/);
});
