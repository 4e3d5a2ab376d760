import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildWorkflow } from '../../server/engine/build.ts';
import { checkEnvironmentAccess, type EnvironmentProtection } from '../../server/engine/environment-access.ts';
import { parseSource } from '../../server/engine/source.ts';

const yaml = `name: app
modules:
  - name: local
    type: deploy.target
    config: { provider: docker }
pipelines:
  main:
    on_error: compensate
    steps:
      - name: early
        type: step.deploy
        config: { environment: live, target: local, image: "web:1" }
      - name: approval
        type: step.gate
        config: { type: manual }
      - name: late
        type: step.deploy
        config: { environment: live, target: local, image: "web:1" }
      - name: elsewhere
        type: step.deploy
        config: { environment: scratch, target: local, image: "web:1" }
    compensation:
      - name: back
        type: step.deploy
        config: { environment: live, target: local, image: "web:0" }
`;

function check(environments: EnvironmentProtection[], workflowName = 'app') {
  const build = buildWorkflow(yaml);
  assert.ok(build.ok, JSON.stringify(build.diagnostics));
  const parsed = parseSource(yaml);
  assert.ok(parsed.ok);
  return checkEnvironmentAccess(parsed.source, build.workflow, workflowName, environments).map((d) => [d.path, d.line, d.message]);
}

const live = (extra: Partial<EnvironmentProtection> = {}): EnvironmentProtection => ({
  name: 'live',
  protected: true,
  allowedWorkflows: ['app'],
  approvers: [],
  ...extra,
});

test('unknown and unprotected environments, and allowed workflows without approvers, pass', () => {
  assert.deepEqual(check([]), []);
  assert.deepEqual(check([live({ protected: false, allowedWorkflows: [] })]), []);
  assert.deepEqual(check([live()]), []);
});

test('a workflow that is not allowed is refused at every deploy to the environment, compensation included', () => {
  const refused = check([live()], 'other');
  const liveLines = yaml.split('\n').flatMap((line, i) => (line.includes('environment: live') ? [i + 1] : []));
  assert.deepEqual(
    refused.map(([path, line]) => [path, line]),
    [
      ['pipelines.main.steps[0].config.environment', liveLines[0]],
      ['pipelines.main.steps[2].config.environment', liveLines[1]],
      ['pipelines.main.compensation[0].config.environment', liveLines[2]],
    ],
  );
  assert.match(String(refused[0]![2]), /^environment "live" is protected: an admin must allow workflow "other" to deploy to it/);
});

test('with approvers, only a deploy after a gate passes: not the one before it, not a compensation step', () => {
  const refused = check([live({ approvers: ['role:admin'] })]);
  assert.deepEqual(
    refused.map(([path]) => path),
    ['pipelines.main.steps[0].config.environment', 'pipelines.main.compensation[0].config.environment'],
  );
  assert.match(String(refused[0]![2]), /needs? approval by role:admin: put a step\.gate before this step/);
  assert.match(String(refused[1]![2]), /a compensation step cannot wait for one/);
});
