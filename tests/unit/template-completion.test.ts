// Completion inside {{ }}: earlier steps, their declared outputs, inputs, secrets and run metadata.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { templatePathAt, templateSuggestions, workflowOutline, type StepTypeInfo } from '../../app/lib/editor/template-completion.ts';
import { stepTypes } from '../../server/engine/schema/steps.ts';

const types = new Map<string, StepTypeInfo>(
  stepTypes.map((def) => [
    def.type,
    { type: def.type, description: def.description, outputs: { ...def.outputs } as StepTypeInfo['outputs'], dynamicOutputs: def.dynamicOutputs ?? false },
  ]),
);

const source = `name: demo
secrets: [API_KEY, DEPLOY_TOKEN]
pipelines:
  build:
    inputs: { target: { type: string } }
    steps:
      - name: compile
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: [make] }
      - name: facts
        type: step.set
        config: { values: { channel: beta } }
      - name: scan
        type: step.scan_container
        config: { target_image: "x" }
      - name: report
        type: step.log
        config: { message: "{{ .steps. }}" }
      - name: later
        type: step.log
        config: { message: "after" }
`;

function suggestAt(marker: string, typed: string): string[] {
  const offset = source.indexOf(marker) + marker.length;
  const line = typed;
  const path = templatePathAt(line, line.length + 1);
  assert.ok(path, `a path at ${typed}`);
  return templateSuggestions(workflowOutline(source), offset, path.segments, types).map((s) => s.label);
}

test('the path being typed inside an open template, and none outside one', () => {
  assert.deepEqual(templatePathAt('msg: "{{ .steps.build.im', 25), { segments: ['steps', 'build'], partial: 'im' });
  assert.deepEqual(templatePathAt('{{ upper .Inputs.', 18), { segments: ['Inputs'], partial: '' });
  assert.equal(templatePathAt('msg: "{{ .a }} .steps.', 23), null, 'after a closed template');
  assert.equal(templatePathAt('plain .steps.', 14), null);
});

test('.steps. offers only the steps that run earlier, not the current or later ones', () => {
  assert.deepEqual(suggestAt('message: "{{ .steps.', 'message: "{{ .steps.'), ['compile', 'facts', 'scan']);
});

test(".steps.<name>. offers that step type's declared outputs, step.set its values, and object outputs their fields", () => {
  assert.deepEqual(suggestAt('message: "{{ .steps.', '{{ .steps.compile.'), ['exit_code', 'artifacts']);
  assert.deepEqual(suggestAt('message: "{{ .steps.', '{{ .steps.facts.'), ['channel']);
  assert.deepEqual(suggestAt('message: "{{ .steps.', '{{ .steps.scan.summary.'), ['critical', 'high', 'medium', 'low', 'info']);
  assert.deepEqual(suggestAt('message: "{{ .steps.', '{{ .steps.later.'), [], 'a later step has nothing to offer');
});

test('.inputs., .secrets. and .meta. offer what the file declares and the run metadata', () => {
  assert.deepEqual(suggestAt('message: "{{ .steps.', '{{ .inputs.'), ['target']);
  assert.deepEqual(suggestAt('message: "{{ .steps.', '{{ .Secrets.'), ['API_KEY', 'DEPLOY_TOKEN']);
  assert.ok(suggestAt('message: "{{ .steps.', '{{ .meta.').includes('run_number'));
  assert.ok(suggestAt('message: "{{ .steps.', '{{ .').includes('steps'));
});
