// Step configs are typed from their zod schemas (StepConfig), and what the types promise is checked where it can
// fail at run time: a config reaching a runner is parsed by its step's schema, and a bad one fails the step.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildWorkflow } from '../../server/engine/build.ts';
import { isBuiltStep, isStepType, parseStepConfig, stepTypes, stepTypesByName, type StepConfig } from '../../server/engine/schema/steps.ts';
import { deploy } from '../../runners/executors/deploy.ts';
import { dockerBuild } from '../../runners/executors/docker-build.ts';
import { logMessage } from '../../runners/executors/general.ts';
import type { StepExecutor, StepRuntime } from '../../runners/executors/types.ts';
import { testJobSpec } from '../helpers/job-spec.ts';

test('parseStepConfig names every bad field of a deploy config, with its path', () => {
  const parsed = parseStepConfig('step.deploy', { environment: 'prod', image: 'web:1', replicas: 'two', canary: { steps: [{ weight: 0 }] }, colour: 'blue' });
  assert.equal(parsed.ok, false);
  assert.ok(!parsed.ok);
  assert.match(parsed.error, /^step\.deploy: /);
  assert.match(parsed.error, /config\.replicas: Invalid input: expected number, received string/);
  assert.match(parsed.error, /config\.canary\.steps\[0\]\.weight: Too small/);
  assert.match(parsed.error, /config: Unrecognized key: "colour"/);
});

test('parseStepConfig applies the schema defaults and types the result', () => {
  const parsed = parseStepConfig('step.gate', { type: 'AUTOMATED', auto_approve_conditions: ['steps.scan.passed_gate == true'] });
  assert.ok(parsed.ok);
  const config: StepConfig<'step.gate'> = parsed.config;
  assert.deepEqual(config, { type: 'auto', timeout: '24h', on_timeout: 'reject', auto_approve_conditions: ['steps.scan.passed_gate == true'] });
  // @ts-expect-error a gate's on_timeout is reject or approve, and the type says so
  const wrong: StepConfig<'step.gate'>['on_timeout'] = 'ignore';
  assert.equal(parseStepConfig('step.gate', { on_timeout: wrong }).ok, false);
});

test('the built-in step types are still listed and looked up by name, for the code that takes any step type', () => {
  assert.equal(stepTypes.length, 16);
  assert.equal(stepTypesByName.get('step.deploy')?.type, 'step.deploy');
  assert.ok(isStepType('step.shell_exec'));
  assert.ok(!isStepType('step.acme_lint'));
});

test("a built workflow's step configs parse again to themselves, so runners can parse what the server sends", () => {
  const build = buildWorkflow(readFileSync(new URL('../../examples/scan-approve-deploy.yaml', import.meta.url)));
  assert.ok(build.ok, build.ok ? '' : build.error);
  const steps = Object.values(build.workflow.pipelines).flatMap((pipeline) => [...pipeline.steps, ...(pipeline.compensation ?? [])]);
  assert.ok(steps.some((step) => isBuiltStep(step, 'step.deploy')) && steps.some((step) => isBuiltStep(step, 'step.gate')));
  for (const step of steps) {
    assert.ok(isStepType(step.type), step.type);
    const parsed = parseStepConfig(step.type, step.config);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    assert.deepEqual(parsed.config, step.config, step.name);
  }
});

/** Runs one executor with a config, as the runner does after resolving the templates; no Docker engine is reached. */
async function run(executor: StepExecutor, config: Record<string, unknown>) {
  const lines: string[] = [];
  const runtime: StepRuntime = {
    job: testJobSpec({ runId: 'step-configs', workflow: 'w', pipeline: 'p', modules: { local: { type: 'deploy.target', config: { provider: 'docker' } } } }),
    step: { index: 0, name: 's', type: 'test', config, timeoutMs: null, continueOnError: false },
    config,
    context: {},
    env: {},
    docker: new Proxy({} as StepRuntime['docker'], {
      get: () => assert.fail('a step with a bad config must not reach the Docker engine'),
    }),
    workspaceVolume: '',
    helperImage: 'flowyard/busybox:latest',
    tempDir: '',
    artifacts: { upload: () => assert.fail('no artifacts'), download: () => assert.fail('no artifacts') },
    output: () => undefined,
    log: (line) => lines.push(line),
    signal: new AbortController().signal,
  };
  return { result: await executor(runtime), lines };
}

test('an executor given a bad config fails the step with the message naming the field, and never throws', async () => {
  const deployed = await run(deploy, { environment: 'prod', target: 'local', image: 'web:1', replicas: 'two' });
  assert.equal(deployed.result.state, 'failed');
  assert.match(deployed.result.error ?? '', /^step\.deploy: config\.replicas: Invalid input: expected number, received string$/);

  // A template that rendered empty: the tag is checked after the templates are resolved.
  const built = await run(dockerBuild, { tags: [''] });
  assert.equal(built.result.state, 'failed');
  assert.match(built.result.error ?? '', /^step\.docker_build: config\.tags\[0\]: Too small/);
  assert.match(built.lines.join('\n'), /config\.tags\[0\]/, 'the step log says why too');

  const logged = await run(logMessage, { level: 'loud', message: 'hello' });
  assert.equal(logged.result.state, 'failed');
  assert.match(logged.result.error ?? '', /^step\.log: config\.level: Invalid option: expected one of "debug"\|"info"\|"warn"\|"error"$/);

  const fine = await run(logMessage, { level: 'WARN', message: 'hello' });
  assert.deepEqual(fine.result, { state: 'succeeded' });
  assert.match(fine.lines[0] ?? '', /\[warn\] hello/);
});
