import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildWorkflow } from '../../server/engine/build.ts';
import type { Diagnostic } from '../../server/engine/diagnostics.ts';

/** Builds and returns the one diagnostic with `code`, failing when there is not exactly one. */
function only(yaml: string, code: string): Diagnostic {
  const result = buildWorkflow(yaml);
  const found = result.diagnostics.filter((d) => d.code === code);
  assert.equal(found.length, 1, `expected one ${code}, got ${JSON.stringify(result.diagnostics, null, 1)}`);
  return found[0]!;
}

function at(d: Diagnostic, line: number, column: number) {
  assert.deepEqual({ line: d.line, column: d.column }, { line, column }, `position of: ${d.message}`);
}

const shell = (extra = '') => `name: demo
pipelines:
  build:
    steps:
      - name: test
        type: step.shell_exec
        config:
          image: busybox
          commands: [echo hi]
${extra}`;

describe('build: a valid workflow', () => {
  test('builds with defaults, types and a plan', () => {
    const result = buildWorkflow(shell());
    assert.equal(result.ok, true, JSON.stringify(result.diagnostics));
    if (!result.ok) return;
    assert.deepEqual(result.stepTypes, ['step.shell_exec']);
    assert.deepEqual(result.triggerTypes, ['manual']);
    assert.deepEqual(result.moduleTypes, []);
    const step = result.workflow.pipelines.build!.steps[0]!;
    assert.equal((step.config as { network_mode: string }).network_mode, 'none');
    assert.equal(result.plan.pipelines[0]!.steps[0]!.name, 'test');
    assert.equal(result.plan.pipelines[0]!.timeoutMs, 3_600_000);
  });

  test('accepts bytes as well as text', () => {
    assert.equal(buildWorkflow(new TextEncoder().encode(shell())).ok, true);
  });
});

describe('build: schema diagnostics with positions', () => {
  test('unknown key with a suggestion, at the key', () => {
    const d = only(shell('        imagee: x\n').replace('          image: busybox\n', '          image: busybox\n'), 'unknown_key');
    assert.match(d.message, /unknown field "imagee"/);
    assert.equal(d.path, 'pipelines.build.steps[0].imagee');
    at(d, 10, 9);
  });

  test('unknown key inside config suggests the config field', () => {
    const d = only(shell().replace('commands: [echo hi]', 'comands: [echo hi]'), 'unknown_key');
    assert.match(d.message, /did you mean "commands"\?/);
    at(d, 9, 11);
  });

  test('missing required field points at the parent key', () => {
    const result = buildWorkflow(shell().replace('          commands: [echo hi]\n', ''));
    const d = result.diagnostics.find((x) => x.code === 'missing_field');
    assert.ok(d, JSON.stringify(result.diagnostics));
    assert.match(d.message, /missing required field "commands"/);
    at(d, 7, 9);
  });

  test('wrong type names what was found', () => {
    const d = only(shell().replace('commands: [echo hi]', 'commands: echo hi'), 'invalid_type');
    assert.match(d.message, /"commands": expected array, got string "echo hi"/);
    at(d, 9, 21);
  });

  test('enum value with suggestion', () => {
    const d = only(shell('').replace('commands: [echo hi]', 'commands: [echo hi]\n          network_mode: hots'), 'invalid_value');
    assert.match(d.message, /"hots" is not allowed; did you mean "host"\?/);
    at(d, 10, 25);
  });

  test('unknown step type suggests the closest', () => {
    const d = only(shell().replace('step.shell_exec', 'step.shel_exec'), 'unknown_step_type');
    assert.match(d.message, /unknown step type "step.shel_exec"; did you mean "step.shell_exec"\?/);
    at(d, 6, 15);
  });

  test('module type Flowyard does not provide is named', () => {
    const d = only(`${shell()}modules:\n  - name: web\n    type: http.server\n`, 'unknown_module_type');
    assert.match(d.message, /module type "http.server" is not provided by Flowyard/);
    at(d, 12, 11);
  });

  test('unknown trigger type', () => {
    const d = only(shell().replace('  build:\n', '  build:\n    trigger: { type: cron }\n'), 'unknown_trigger_type');
    assert.match(d.message, /unknown trigger type "cron"/);
    at(d, 4, 22);
  });

  test('bad duration and bad size', () => {
    const duration = only(shell().replace('commands: [echo hi]', 'commands: [echo hi]\n          timeout: 5 minutes'), 'invalid_value');
    assert.match(duration.message, /"timeout": expected a duration/);
    at(duration, 10, 20);
    const size = only(shell().replace('commands: [echo hi]', 'commands: [echo hi]\n          memory_limit: lots'), 'invalid_value');
    assert.match(size.message, /memory_limit/);
    at(size, 10, 25);
  });
});

describe('build: semantic diagnostics with positions', () => {
  const twoSteps = (first: string, second: string) => `name: demo
pipelines:
  build:
    steps:
      - name: ${first}
        type: step.docker_build
        config: { tags: [app] }
      - name: ${second}
        type: step.log
        config:
          message: "built {{ .steps.${first}.image_id }}"
`;

  test('duplicate step names', () => {
    const d = only(twoSteps('a', 'a'), 'duplicate_name');
    at(d, 8, 15);
  });

  test('template reads a later step', () => {
    const yaml = `name: demo
pipelines:
  build:
    steps:
      - name: first
        type: step.log
        config:
          message: "image {{ .steps.later.image_id }}"
      - name: later
        type: step.docker_build
        config: { tags: [app] }
`;
    const d = only(yaml, 'later_step_reference');
    assert.match(d.message, /does not run before this point/);
    at(d, 8, 30);
  });

  test('template reads an unknown step and an unknown output', () => {
    const unknownStep = only(twoSteps('a', 'b').replace('.steps.a.', '.steps.aa.'), 'unknown_step_reference');
    assert.match(unknownStep.message, /no step is named "aa"/);
    at(unknownStep, 11, 30);
    const unknownOutput = only(twoSteps('a', 'b').replace('image_id', 'imageid'), 'unknown_output');
    assert.match(unknownOutput.message, /has no output "imageid"; did you mean "image_id"\?/);
  });

  test('template syntax error and unknown function', () => {
    const syntax = only(shell().replace('[echo hi]', '["echo {{ .x "]'), 'template_syntax');
    assert.match(syntax.message, /unclosed action/);
    at(syntax, 9, 28);
    const fn = only(shell().replace('[echo hi]', '["echo {{ .x | uper }}"]'), 'template_syntax');
    assert.match(fn.message, /unknown function "uper"; did you mean "upper"\?/);
  });

  test('inputs, secrets and meta must be declared', () => {
    const input = only(shell().replace('[echo hi]', '["echo {{ .Inputs.who }}"]'), 'unknown_input');
    at(input, 9, 31);
    const secret = only(shell().replace('[echo hi]', '["echo {{ .Secrets.TOKEN }}"]'), 'undeclared_secret');
    assert.match(secret.message, /"TOKEN" is not listed under secrets/);
    const meta = only(shell().replace('[echo hi]', '["echo {{ .meta.run_numbr }}"]'), 'unknown_meta');
    assert.match(meta.message, /did you mean "run_number"\?/);
  });

  test('undeclared env is a warning, not an error', () => {
    const result = buildWorkflow(shell().replace('[echo hi]', '["echo {{ .Env.HOME }}"]'));
    assert.equal(result.ok, true);
    assert.equal(result.diagnostics[0]?.code, 'undeclared_env');
    assert.equal(result.diagnostics[0]?.severity, 'warning');
  });

  test('cron and time zone are checked', () => {
    const cron = only(shell().replace('  build:\n', '  build:\n    trigger: { type: schedule, config: { cron: "61 * * * *" } }\n'), 'invalid_cron');
    at(cron, 4, 48);
    const tz = only(
      shell().replace('  build:\n', '  build:\n    trigger: { type: schedule, config: { cron: "0 3 * * *", timezone: Mars/Base } }\n'),
      'invalid_timezone',
    );
    assert.match(tz.message, /unknown time zone "Mars\/Base"/);
  });

  test('module references: unknown, wrong type, unimplemented provider', () => {
    const base = `name: demo
modules:
  - name: reg
    type: docker.registry
    config: { url: 127.0.0.1:5000 }
  - name: aws
    type: deploy.target
    config: { provider: aws_ecs }
pipelines:
  build:
    steps:
      - name: push
        type: step.docker_push
        config: { image: app, registry: REGISTRY }
`;
    const unknown = only(base.replace('REGISTRY', 'rg'), 'unknown_module');
    assert.match(unknown.message, /no module is named "rg"; did you mean "reg"\?/);
    at(unknown, 14, 41);
    const wrong = only(base.replace('REGISTRY', 'aws'), 'wrong_module_type');
    assert.match(wrong.message, /"aws" is a deploy.target, but registry needs a docker.registry/);
    const provider = only(base.replace('REGISTRY', 'reg'), 'deploy_provider_plugin_missing');
    assert.match(provider.message, /comes from plugin flowyard\/aws-ecs, which is not installed or not listed; install flowyard\/aws-ecs/);
    at(provider, 8, 25);
  });

  test('duplicate webhook paths in one workflow', () => {
    const yaml = `name: demo
pipelines:
  a:
    trigger: { type: http, config: { path: /hook } }
    steps: [{ name: s, type: step.log, config: { message: hi } }]
  b:
    trigger: { type: http, config: { path: /hook } }
    steps: [{ name: s, type: step.log, config: { message: hi } }]
`;
    const d = only(yaml, 'duplicate_webhook');
    at(d, 7, 44);
  });

  test('compensation needs on_error compensate and vice versa', () => {
    const d = only(shell('    on_error: compensate\n'), 'missing_compensation');
    at(d, 10, 15);
  });

  test('conditional routes must go forward to existing steps', () => {
    const yaml = `name: demo
pipelines:
  p:
    steps:
      - name: pick
        type: step.conditional
        config: { field: kind, routes: { a: nowhere }, default: pick }
      - name: end
        type: step.log
        config: { message: done }
`;
    const result = buildWorkflow(yaml);
    const codes = result.diagnostics.map((d) => `${d.code}@${d.line}:${d.column}`).sort();
    assert.deepEqual(codes, ['later_step_reference@7:65', 'unknown_step_reference@7:45']);
  });

  test('top-level triggers must name a pipeline', () => {
    const d = only(`${shell()}triggers:\n  - { type: manual, pipeline: biuld }\n`, 'unknown_pipeline');
    assert.match(d.message, /did you mean "build"\?/);
    at(d, 11, 31);
  });
});

describe('build: gate checks', () => {
  const gate = (config: string) => `name: demo
pipelines:
  p:
    steps:
      - name: scan
        type: step.log
        config: { message: scanned }
      - name: approve
        type: step.gate
        config: ${config}
`;

  test('auto-approve conditions are parsed and must read earlier steps', () => {
    assert.equal(buildWorkflow(gate('{ auto_approve_conditions: ["steps.scan.state == \'succeeded\'"] }')).ok, true);
    const syntax = only(gate('{ auto_approve_conditions: ["steps.scan.x === 1"] }'), 'invalid_condition');
    assert.match(syntax.message, /condition: unexpected character "="/);
    at(syntax, 10, 61);
    const unknown = only(gate('{ auto_approve_conditions: ["steps.scn.passed == true"] }'), 'unknown_step_reference');
    assert.match(unknown.message, /did you mean "scan"\?/);
    at(unknown, 10, 46);
  });

  test('approvers are e-mails or roles', () => {
    const d = only(gate('{ approvers: [alice, "role:admin", bob@example.com] }'), 'invalid_approver');
    assert.match(d.message, /approver "alice"/);
    at(d, 10, 31);
    assert.match(only(gate('{ approvers: ["role:boss"] }'), 'invalid_approver').message, /"role:boss"/);
  });
});

describe('build: deploy checks', () => {
  const deploy = (extra: string) => `name: demo
modules:
  - { name: here, type: deploy.target, config: { provider: docker } }
pipelines:
  p:
    steps:
      - name: ship
        type: step.deploy
        config: { environment: staging, target: here, image: "app:1"${extra} }
`;
  test('canary needs its steps; rolling needs room to move', () => {
    assert.equal(buildWorkflow(deploy(', strategy: blue_green')).ok, true);
    assert.match(only(deploy(', strategy: canary'), 'missing_field').message, /canary.steps/);
    assert.match(only(deploy(', rolling: { max_surge: 0, max_unavailable: 0 }'), 'invalid_value').message, /cannot both be 0/);
  });
});
