import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildWorkflow, type BuildResult } from '../../server/engine/build.ts';
import type { Diagnostic } from '../../server/engine/diagnostics.ts';
import { workflowJsonSchema } from '../../server/engine/json-schema.ts';

type Built = Extract<BuildResult, { ok: true }>;

function built(yaml: string, fallbackName?: string): Built {
  const result = buildWorkflow(yaml, fallbackName);
  assert.equal(result.ok, true, JSON.stringify(result.diagnostics, null, 1));
  return result as Built;
}

function errorsOf(yaml: string): Diagnostic[] {
  const result = buildWorkflow(yaml);
  assert.equal(result.ok, false, 'expected the build to fail');
  return result.diagnostics.filter((d) => d.severity === 'error');
}

/** One pipeline `p` with the given steps (YAML list items, indented by 6). */
const pipeline = (steps: string, head = '') => `${head}pipelines:\n  p:\n    steps:\n${steps}`;
const step = (type: string, config: string, name = 's') => `      - name: ${name}\n        type: ${type}\n        config: ${config}\n`;
const configOf = (result: Built, index = 0) => result.workflow.pipelines.p!.steps[index]!.config as Record<string, unknown>;

describe('upstream format: name', () => {
  test('name is optional: the fallback stands in, made a valid name, else "workflow"', () => {
    const yaml = pipeline(step('step.log', '{ message: hi }'));
    assert.equal(built(yaml, 'release-pipeline').workflow.name, 'release-pipeline');
    assert.equal(built(yaml, 'my flow.yaml').workflow.name, 'my-flow');
    assert.equal(built(yaml).workflow.name, 'workflow');
    assert.equal(built(`name: own\n${yaml}`, 'other').workflow.name, 'own');
  });
});

describe('upstream format: enumerations in any case', () => {
  test('severity_threshold HIGH, fail_on_severity Critical, log level INFO, http method get', () => {
    const result = built(`pipelines:
  p:
    trigger: { type: http, config: { path: /in, method: get } }
    steps:
${step('step.scan_container', '{ target_image: app:1, severity_threshold: HIGH }', 'a')}${step('step.scan_deps', '{ fail_on_severity: Critical }', 'b')}${step('step.log', '{ level: INFO, message: x }', 'c')}`);
    assert.equal(configOf(result, 0).severity_threshold, 'high');
    assert.equal(configOf(result, 1).fail_on_severity, 'critical');
    assert.equal(configOf(result, 2).level, 'info');
    assert.equal((result.workflow.pipelines.p!.trigger!.config as { method: string }).method, 'GET');
  });

  test("Semgrep's error and warning map onto high and medium", () => {
    const result = built(pipeline(step('step.scan_sast', '{ fail_on_severity: error }', 'a') + step('step.scan_sast', '{ fail_on_severity: WARNING }', 'b')));
    assert.deepEqual([configOf(result, 0).fail_on_severity, configOf(result, 1).fail_on_severity], ['high', 'medium']);
  });

  test('a misspelt value still fails, with the suggestion as a quick fix', () => {
    const [d] = errorsOf(pipeline(step('step.scan_container', '{ target_image: app, severity_threshold: HIGHH }')));
    assert.match(d!.message, /"HIGHH" is not allowed; did you mean "high"\?/);
    assert.deepEqual(d!.fix, { replace: 'high' });
    assert.deepEqual([d!.line, d!.column], [6, 58]);
  });
});

describe('upstream format: field names normalised to the canonical ones', () => {
  test('scan_container takes image as the image to scan when target_image is absent', () => {
    const config = configOf(built(pipeline(step('step.scan_container', '{ image: "app:{{ .Version }}", output_format: SARIF }'))));
    assert.equal(config.target_image, 'app:{{ .Version }}');
    assert.equal('image' in config || 'output_format' in config, false);
    const both = buildWorkflow(pipeline(step('step.scan_container', '{ image: a, target_image: b }')));
    assert.equal(both.ok, true);
    assert.equal(configOf(both as Built).target_image, 'b');
    assert.match(both.diagnostics.find((d) => d.code === 'ignored_field')!.message, /"image" is ignored when "target_image" is set/);
    const [missing] = errorsOf(pipeline(step('step.scan_container', '{ ignore_unfixed: true }')));
    assert.equal(missing!.code, 'missing_field');
    assert.match(missing!.message, /missing required field "target_image" \(upstream: "image"\)/);
  });

  test('scan_sast: image, source_path, a list of one rule; scan_deps: source_path', () => {
    const result = built(
      pipeline(
        step('step.scan_sast', '{ scanner: SEMGREP, image: "sg:1", source_path: /workspace/src, rules: [".semgrep.yml"] }', 'a') +
          step('step.scan_deps', '{ source_path: ./app }', 'b'),
      ),
    );
    assert.deepEqual(
      { scanner_image: configOf(result).scanner_image, paths: configOf(result).paths, rules: configOf(result).rules, scanner: configOf(result).scanner },
      { scanner_image: 'sg:1', paths: ['/workspace/src'], rules: '.semgrep.yml', scanner: 'semgrep' },
    );
    assert.equal(configOf(result, 1).path, './app');
    assert.equal('source_path' in configOf(result) || 'source_path' in configOf(result, 1), false);
  });

  test('several or registry rules load with a warning that the step cannot run them', () => {
    const result = buildWorkflow(pipeline(step('step.scan_sast', '{ rules: ["p/owasp-top-ten", "p/golang"], artifacts_out: { key: sast-report } }')));
    assert.equal(result.ok, true);
    const warnings = result.diagnostics.map((d) => `${d.severity} ${d.code}: ${d.message}`);
    assert.ok(
      warnings.some((w) => /^warning unsupported_value: the runner gives Semgrep one rules file/.test(w)),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => /p\/owasp-top-ten, p\/golang come from the Semgrep registry/.test(w)),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => /sarif\/<step name>\.sarif/.test(w)),
      warnings.join('\n'),
    );
  });

  test('writing the upstream and the Flowyard name of one field is an error', () => {
    const [d] = errorsOf(pipeline(step('step.scan_deps', '{ path: a, source_path: b }')));
    assert.equal(d!.code, 'duplicate_field');
    assert.match(d!.message, /"source_path" is the upstream name of "path"; give only one of them/);
  });

  test('artifact_push: source_path is path, dest artifact_store is the default store, another dest a store module', () => {
    const result = built(
      pipeline(
        step('step.artifact_push', '{ source_path: /workspace/out/server, key: bin, dest: artifact_store }', 'a') +
          step('step.artifact_push', '{ source_path: out, key: bin2, dest: bucket }', 'b'),
        'modules:\n  - { name: bucket, type: artifact.store }\n',
      ),
    );
    assert.deepEqual(configOf(result, 0), { key: 'bin', path: '/workspace/out/server' });
    assert.deepEqual(configOf(result, 1), { key: 'bin2', path: 'out', store: 'bucket' });
    const [unknown] = errorsOf(pipeline(step('step.artifact_push', '{ source_path: out, key: k, dest: nowhere }')));
    assert.match(unknown!.message, /no module is named "nowhere"/);
  });

  test('artifact_pull: source and execution_id become from_run; a template id means the latest successful run', () => {
    const result = buildWorkflow(
      pipeline(
        step('step.artifact_pull', '{ source: previous_execution, execution_id: "12", key: k, dest: ./bin }', 'a') +
          step('step.artifact_pull', '{ source: s3, execution_id: "{{.PreviousExecutionID}}", key: k }', 'b') +
          step('step.artifact_pull', '{ source: previous_execution, key: k }', 'c'),
      ),
    );
    assert.equal(result.ok, true, JSON.stringify(result.diagnostics));
    const [a, b, c] = [0, 1, 2].map((i) => configOf(result as Built, i));
    assert.deepEqual([a!.from_run, b!.from_run, c!.from_run], [12, 'latest_success', undefined]);
    assert.equal('source' in a! || 'execution_id' in a!, false);
    assert.match(result.diagnostics.find((d) => d.code === 'mapped_value')!.message, /latest successful run/);
    const [url] = errorsOf(pipeline(step('step.artifact_pull', '{ source: url, key: k }')));
    assert.match(url!.message, /source "url" is not supported/);
  });

  test('docker_push: a registry host prefix goes before the image, with an implied registry module', () => {
    const result = built(pipeline(step('step.docker_push', '{ image: "myapp:1", registry: "ghcr.io/myorg" }')));
    assert.deepEqual(configOf(result), { image: 'ghcr.io/myorg/myapp:1', registry: 'registry-ghcr.io' });
    assert.deepEqual(result.workflow.modules, [{ name: 'registry-ghcr.io', type: 'docker.registry', config: { url: 'ghcr.io', insecure: false } }]);
  });

  test('docker_push: auth_provider names the registry module with the credentials; an unknown one warns', () => {
    const head = 'secrets: [PW]\nmodules:\n  - { name: team, type: docker.registry, config: { url: "127.0.0.1:5000", username: ci, password_secret: PW } }\n';
    const result = built(pipeline(step('step.docker_push', '{ image: app:1, registry: "127.0.0.1:5000/t", auth_provider: team }'), head));
    assert.deepEqual(configOf(result), { image: '127.0.0.1:5000/t/app:1', registry: 'team' });
    assert.equal(result.workflow.modules!.length, 1);
    const ecr = buildWorkflow(pipeline(step('step.docker_push', '{ image: app, registry: "1.dkr.ecr.aws.com", auth_provider: aws_ecr }')));
    assert.equal(ecr.ok, true);
    assert.match(ecr.diagnostics[0]!.message, /no docker.registry module is named "aws_ecr", so the push to 1.dkr.ecr.aws.com goes without credentials/);
    const [wrongHost] = errorsOf(pipeline(step('step.docker_push', '{ image: app, registry: "ghcr.io", auth_provider: team }'), head));
    assert.match(wrongHost!.message, /registry module "team" is for 127.0.0.1:5000, not ghcr.io/);
  });

  test("gate conditions that read upstream's <step>.<output> warn: only steps.<name>.<output> is ever set", () => {
    const result = buildWorkflow(
      pipeline(step('step.scan_deps', '{}', 'scan') + step('step.gate', '{ auto_approve_conditions: ["scan.passed_gate == true", "tests.passed"] }', 'g')),
    );
    assert.equal(result.ok, true);
    const warnings = result.diagnostics.filter((d) => d.code === 'unreadable_condition');
    assert.deepEqual(
      warnings.map((d) => [d.severity, d.line, d.column]),
      [
        ['warning', 9, 46],
        ['warning', 9, 74],
      ],
    );
    assert.match(warnings[0]!.message, /condition reads scan.passed_gate, which is never set: .*; did you mean steps.scan.passed_gate\?/);
    assert.doesNotMatch(warnings[1]!.message, /did you mean/);
  });

  test('gate automated is auto; scheduled is refused', () => {
    assert.equal(configOf(built(pipeline(step('step.gate', '{ type: automated }')))).type, 'auto');
    assert.match(errorsOf(pipeline(step('step.gate', '{ type: scheduled }')))[0]!.message, /gate type "scheduled" is not implemented yet/);
  });

  test('deploy: provider docker implies a target; percentages of replicas; a cloud provider names its plugin', () => {
    const result = built(
      pipeline(step('step.deploy', '{ environment: prod, image: app:1, provider: docker, replicas: 4, rolling: { max_surge: 25%, max_unavailable: 30% } }')),
    );
    const config = configOf(result);
    assert.equal(config.target, 'docker-target');
    assert.deepEqual(config.rolling, { max_surge: 1, max_unavailable: 1 });
    assert.equal('provider' in config, false);
    assert.deepEqual(result.workflow.modules, [{ name: 'docker-target', type: 'deploy.target', config: { provider: 'docker' } }]);
    assert.deepEqual(
      errorsOf(pipeline(step('step.deploy', '{ environment: prod, image: app, provider: aws_ecs }'))).map((d) => d.code),
      ['deploy_provider_plugin_missing'],
    );
    assert.match(errorsOf(pipeline(step('step.deploy', '{ environment: prod, image: app }')))[0]!.message, /missing required field "target"/);
  });

  test('requires.plugins as {name, version}, empty workflows and triggers mappings', () => {
    const result = built(
      `requires:\n  plugins:\n    - name: pipeline-steps\n      version: ">=1"\n    - other\nworkflows: {}\ntriggers: {}\n${pipeline(step('step.log', '{ message: x }'))}`,
    );
    assert.deepEqual(result.workflow.requires?.plugins, [
      { name: 'pipeline-steps', version: '>=1' },
      { name: 'other', version: '*' },
    ]);
    assert.deepEqual(result.workflow.triggers, []);
    assert.equal('workflows' in result.workflow, false);
    const [d] = errorsOf(`workflows:\n  http: { server: s }\n${pipeline(step('step.log', '{ message: x }'))}`);
    assert.match(d!.message, /application workflows .* are not run by Flowyard/);
  });

  test('the built config passes the schema again (the runner re-parses step.deploy)', async () => {
    const { stepTypes } = await import('../../server/engine/schema/steps.ts');
    const result = built(pipeline(step('step.deploy', '{ environment: prod, image: app:1, provider: docker, rolling: { max_surge: 50% } }')));
    const schema = stepTypes.find((def) => def.type === 'step.deploy')!.config;
    assert.deepEqual(schema.parse(configOf(result)), configOf(result));
  });
});

describe('upstream format: the step template function', () => {
  test('reads earlier steps by name, hyphens and all, and is checked like .steps references', () => {
    const steps = step('step.docker_build', '{ tags: [app] }', 'build-image') + step('step.log', `{ message: '{{ step "build-image" "image_id" }}' }`, 'show');
    assert.equal(built(pipeline(steps)).plan.pipelines[0]!.steps.length, 2);
    const wrong = errorsOf(
      pipeline(
        step('step.docker_build', '{ tags: [app] }', 'build-image') +
          step('step.log', `{ message: '{{ step "build-image" "imageid" }} {{ step "later" "x" }}' }`, 'show') +
          step('step.log', '{ message: x }', 'later'),
      ),
    );
    assert.deepEqual(
      wrong.map((d) => d.code),
      ['unknown_output', 'later_step_reference'],
    );
    assert.match(wrong[0]!.message, /did you mean "image_id"\?/);
    assert.deepEqual([wrong[1]!.line, wrong[1]!.column], [9, 67]);
  });
});

describe('upstream format: ${ } expressions are refused with the {{ }} form', () => {
  test('in skip_if, at the ${, with the translation', () => {
    const yaml = pipeline(
      `      - name: s\n        type: step.log\n        skip_if: '\${ status == "inactive" && count > 0 }'\n        config: { message: x }\n`,
    );
    const [d] = errorsOf(yaml);
    assert.equal(d!.code, 'upstream_expression');
    assert.deepEqual([d!.line, d!.column], [6, 19]);
    assert.match(d!.message, /write \{\{ and \(eq \.status "inactive"\) \(gt \.count 0\) \}\}/);
  });

  test('in config values, with bracket paths and body; a quick fix where the text can be swapped', () => {
    const [d] = errorsOf(pipeline(step('step.log', `{ message: 'id \${ steps["parse-request"]["id"] } from \${body.user}' }`)));
    assert.match(d!.message, /write \{\{ \.steps\.parse-request\.id \}\}/);
    assert.deepEqual(d!.fix, { replace: '{{ .steps.parse-request.id }}' });
    const all = errorsOf(pipeline(step('step.log', `{ message: 'a \${ x } b \${body.user}' }`)));
    assert.deepEqual(
      all.map((e) => e.fix?.replace),
      ['{{ .x }}', '{{ .trigger.user }}'],
    );
    assert.deepEqual(
      all.map((e) => e.column),
      [31, 40],
    );
  });

  test('an expression it cannot translate still gets the {{ }} hint; shell commands and ${{ are left alone', () => {
    const [d] = errorsOf(pipeline(step('step.log', `{ message: '\${ upper(env) }' }`)));
    assert.match(d!.message, /write it as a \{\{ \}\} template/);
    built(pipeline(step('step.shell_exec', `{ image: busybox, commands: ['echo \${HOME}'] }`) + step('step.log', `{ message: 'cost: \${{ .total }}' }`, 'b')));
  });
});

describe('every independent problem is reported at once', () => {
  test('a schema error does not hide a bad cron or a forward template reference', () => {
    const yaml = `pipelines:
  p:
    trigger:
      type: schedule
      config:
        cron: "61 * * * *"
    steps:
      - name: first
        config: { message: '{{ .steps.second.exit_code }}' }
        type: step.log
      - name: second
        type: step.shell_exec
        config: { commands: ["true"] }
`;
    const errors = errorsOf(yaml).map((d) => [d.line, d.code]);
    assert.deepEqual(errors, [
      [6, 'invalid_cron'],
      [9, 'later_step_reference'],
      [13, 'missing_field'],
    ]);
  });

  test('a broken step still holds its name and position; duplicates and unknown modules are found too', () => {
    const yaml = `modules:
  - { name: reg, type: docker.registry, config: { url: "127.0.0.1:5000", bad: 1 } }
pipelines:
  p:
    timeout: forever
    steps:
      - name: a
        type: step.docker_push
        config: { image: "127.0.0.1:5000/x", registry: reg }
      - name: a
        type: step.log
        config: { message: '{{ .steps.b.exit_code }}' }
      - name: b
        type: step.shel_exec
        config: {}
      - name: c
        type: step.artifact_pull
        config: { key: k, store: stor }
`;
    const errors = errorsOf(yaml).map((d) => `${d.line} ${d.code}`);
    assert.deepEqual(errors, ['2 unknown_key', '5 invalid_value', '10 duplicate_name', '12 later_step_reference', '14 unknown_step_type', '18 unknown_module']);
  });
});

describe('editor help', () => {
  test('type with no value yet says to choose one', () => {
    const [d] = errorsOf(pipeline('      - name: s\n        type:\n'));
    assert.match(d!.message, /^choose a step type: one of step\.shell_exec/);
    assert.equal(d!.line, 5);
  });

  test('did-you-mean diagnostics carry the replacement as a quick fix', () => {
    const fixes = (yaml: string) => buildWorkflow(yaml).diagnostics.flatMap((d) => (d.fix ? [d.fix.replace] : []));
    assert.deepEqual(fixes(pipeline(step('step.shell_exec', '{ image: busybox, comands: [x] }'))), ['commands']);
    assert.deepEqual(fixes(pipeline('      - name: s\n        type: step.shel_exec\n')), ['step.shell_exec']);
    assert.deepEqual(fixes(pipeline(step('step.artifact_pull', '{ key: k, store: stor }'), 'modules: [{ name: store, type: artifact.store }]\n')), ['store']);
  });
});

describe('JSON Schema', () => {
  test('still generates, with the upstream fields and the upper-case spellings for editors', () => {
    const schema = JSON.stringify(workflowJsonSchema('http://x/api/schema/workflow.json'));
    for (const needle of ['"source_path"', '"execution_id"', '"auth_provider"', '"HIGH"', '"GET"', '"automated"', '"ERROR"']) {
      assert.ok(schema.includes(needle), needle);
    }
    assert.deepEqual(workflowJsonSchema().required, ['pipelines']);
  });
});
