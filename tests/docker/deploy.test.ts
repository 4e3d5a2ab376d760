// Drives step.deploy with the docker provider against the real Docker engine: every strategy starts,
// health-checks and retires containers of locally built images that serve their version with busybox httpd
// on 127.0.0.1:$PORT (host networking).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProvider } from '../../runners/deploy/providers.ts';
import { createDockerClient, describeDockerHost, imageExists, pingDocker } from '../../runners/docker/engine.ts';
import { deploy } from '../../runners/executors/deploy.ts';
import type { StepResult } from '../../runners/executors/types.ts';
import type { JobSpec } from '../../runners/protocol/v1.ts';
import { testJobSpec } from '../helpers/job-spec.ts';

const BASE_IMAGE = 'flowyard/busybox:latest';
const docker = createDockerClient();
const suffix = randomUUID().slice(0, 8);
const app = `flowyard-test/deploy-${suffix}`;
const environment = `test-${suffix}`;
const image = (tag: string) => `${app}:${tag}`;
const healthCheck = { path: '/healthz', interval: '200ms', timeout: '1s', healthy_threshold: 2 };
const provider = createProvider({ provider: 'docker' }, docker);
let tempDir = '';
let stepIndex = 0;

interface Running {
  version: string;
  slot: string;
  port: number;
}

function jobSpec(): JobSpec {
  return testJobSpec({
    runId: `deploy-${suffix}`,
    workflow: 'deploy-test',
    pipeline: 'release',
    modules: {
      local: { type: 'deploy.target', config: { provider: 'docker' } },
      ecs: { type: 'deploy.target', config: { provider: 'aws_ecs', region: 'eu-west-1' } },
    },
  });
}

async function runDeploy(
  config: Record<string, unknown>,
  options: { signal?: AbortSignal; lines?: string[] } = {},
): Promise<{ result: StepResult; lines: string[] }> {
  const lines = options.lines ?? [];
  const fullConfig = { environment, target: 'local', replicas: 2, health_check: healthCheck, ...config };
  const result = await deploy({
    job: jobSpec(),
    step: { index: stepIndex++, name: 'deploy', type: 'step.deploy', config: fullConfig, timeoutMs: null, continueOnError: false },
    config: fullConfig,
    context: {},
    env: {},
    docker,
    workspaceVolume: '',
    helperImage: BASE_IMAGE,
    tempDir,
    artifacts: {
      upload: () => Promise.reject(new Error('no artifacts in these tests')),
      download: () => Promise.reject(new Error('no artifacts in these tests')),
    },
    output: () => undefined,
    log: (line) => lines.push(line),
    signal: options.signal ?? new AbortController().signal,
  });
  return { result, lines };
}

/** Running app instances, as the engine lists them. */
async function running(): Promise<Running[]> {
  const containers = await docker.listContainers({ filters: { label: [`flowyard.app=${app}`, 'flowyard.role=deploy-instance'] } });
  return containers.map((c) => ({ version: c.Labels['flowyard.version']!, slot: c.Labels['flowyard.slot']!, port: Number(c.Labels['flowyard.port']) }));
}

async function versionsOfAllContainers(): Promise<string[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`flowyard.app=${app}`, 'flowyard.role=deploy-instance'] } });
  return containers.map((c) => c.Labels['flowyard.version']!).sort();
}

async function answer(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return (await response.text()).trim();
}

/** Every running instance answers `version` on its loopback port; returns their ports. */
async function assertAllServe(version: string, replicas = 2): Promise<number[]> {
  const instances = await running();
  assert.deepEqual(
    instances.map((instance) => instance.version),
    Array(replicas).fill(version),
  );
  for (const instance of instances) assert.equal(await answer(`http://127.0.0.1:${instance.port}/`), version);
  return instances.map((instance) => instance.port).sort();
}

async function waitForLine(lines: string[], pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  for (const started = Date.now(); !lines.some((line) => pattern.test(line)); await new Promise((resolve) => setTimeout(resolve, 100))) {
    assert.ok(Date.now() - started < timeoutMs, `no log line ${pattern} within ${timeoutMs} ms:\n${lines.join('\n')}`);
  }
}

/** Builds `dockerfile` with the files of `www` (name → content) in its context, tagged `ref`. */
async function buildImage(ref: string, dockerfile: string[], www: Record<string, string> = {}): Promise<void> {
  const context = await mkdtemp(join(tempDir, 'context-'));
  await mkdir(join(context, 'www'));
  for (const [name, content] of Object.entries(www)) await writeFile(join(context, 'www', name), content);
  await writeFile(join(context, 'Dockerfile'), `${dockerfile.join('\n')}\n`);
  const stream = await docker.buildImage({ context, src: ['Dockerfile', 'www'] }, { t: ref, labels: { 'flowyard.test': suffix } });
  const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
    docker.modem.followProgress(stream, (error: Error | null, output: { error?: string }[]) => (error ? reject(error) : resolve(output))),
  );
  const failure = events.find((event) => event.error);
  assert.equal(failure, undefined, `building ${ref}: ${failure?.error}`);
}

/**
 * One image per version, each a single COPY on a shared base that runs httpd on 127.0.0.1:$PORT:
 * index.html is the version and /healthz exists, except in "broken".
 */
async function buildAppImages(): Promise<void> {
  const base = image('base');
  await buildImage(base, [`FROM ${BASE_IMAGE}`, 'CMD ["sh", "-c", "exec httpd -f -p 127.0.0.1:$PORT -h /www"]']);
  const versions = ['v1', 'v2', 'v3', 'v4', 'v5'].map((tag) => [tag, { 'index.html': `${tag}\n`, healthz: 'ok\n' }] as const);
  await Promise.all(
    [...versions, ['broken', { 'index.html': 'broken\n' }] as const].map(([tag, www]) => buildImage(image(tag), [`FROM ${base}`, 'COPY www /www'], www)),
  );
}

before(async () => {
  if (!(await pingDocker(docker))) assert.fail(`Docker engine not reachable at ${describeDockerHost()}: run "bash scripts/setup/docker.sh" first`);
  assert.ok(await imageExists(docker, BASE_IMAGE), `image ${BASE_IMAGE} missing: run "bash scripts/setup/docker.sh" first`);
  tempDir = await mkdtemp(join(tmpdir(), 'flowyard-deploy-'));
  await buildAppImages();
});

after(async () => {
  for (const container of await docker.listContainers({ all: true, filters: { label: [`flowyard.app=${app}`] } })) {
    await docker.getContainer(container.Id).remove({ force: true });
  }
  for (const found of await docker.listImages({ filters: { label: [`flowyard.test=${suffix}`] } })) {
    await docker.getImage(found.Id).remove({ force: true });
  }
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});

test('a first rolling deploy starts every replica, each answering on its own loopback port', async () => {
  const { result, lines } = await runDeploy({ image: image('v1'), strategy: 'rolling' });
  assert.equal(result.state, 'succeeded', `${result.error}\n${lines.join('\n')}`);
  assert.equal(result.outputs?.status, 'deployed');
  assert.equal(result.outputs?.version, 'v1');
  assert.match(String(result.outputs?.deployment_id), /^[0-9a-f-]{36}$/);
  assert.equal(await answer(String(result.outputs?.url)), 'v1');
  const ports = await assertAllServe('v1');
  assert.equal(new Set(ports).size, 2);
});

test('a rolling update replaces one instance at a time, each new one healthy before an old one stops', async () => {
  const { result, lines } = await runDeploy({ image: image('v2'), strategy: 'rolling', rolling: { max_surge: 1, max_unavailable: 0 } });
  assert.equal(result.state, 'succeeded', `${result.error}\n${lines.join('\n')}`);
  await assertAllServe('v2');
  assert.deepEqual(await versionsOfAllContainers(), ['v2', 'v2']);
  const firstStop = lines.findIndex((line) => line.startsWith('stopped old instance'));
  const firstHealthy = lines.findIndex((line) => line.includes('(2/2 consecutive passes)'));
  assert.ok(firstHealthy >= 0 && firstHealthy < firstStop, lines.join('\n'));
  assert.equal(lines.filter((line) => line.startsWith('rolling batch')).length, 2, lines.join('\n'));
});

test('blue-green starts the other colour, switches to it and retires the old colour', async () => {
  const before = await provider.status(app, environment);
  assert.equal(before.version, 'v2');
  const { result, lines } = await runDeploy({ image: image('v3'), strategy: 'blue_green' });
  assert.equal(result.state, 'succeeded', `${result.error}\n${lines.join('\n')}`);
  const afterwards = await provider.status(app, environment);
  assert.equal(afterwards.version, 'v3');
  assert.notEqual(afterwards.slot, before.slot);
  assert.deepEqual(
    (await running()).map((instance) => instance.slot),
    [afterwards.slot, afterwards.slot],
  );
  assert.deepEqual(await versionsOfAllContainers(), ['v3', 'v3']);
  assert.equal(await answer(String(result.outputs?.url)), 'v3');
  await assertAllServe('v3');
});

test('a canary holds a mixed state at 50% and ends with every instance on the new version', async () => {
  const lines: string[] = [];
  const deploying = runDeploy({ image: image('v4'), strategy: 'canary', canary: { steps: [{ weight: 50, pause: '3s' }, { weight: 100 }] } }, { lines });
  await waitForLine(lines, /^canary 50%: holding/);
  const mixed = await running();
  assert.deepEqual(mixed.map((instance) => instance.version).sort(), ['v3', 'v4']);
  assert.deepEqual((await Promise.all(mixed.map((instance) => answer(`http://127.0.0.1:${instance.port}/`)))).sort(), ['v3', 'v4']);
  const { result } = await deploying;
  assert.equal(result.state, 'succeeded', `${result.error}\n${lines.join('\n')}`);
  assert.ok(lines.includes('canary 50%: 1 new (v4), 1 old: 50% of instances on the new version'), lines.join('\n'));
  await assertAllServe('v4');
  assert.deepEqual(await versionsOfAllContainers(), ['v4', 'v4']);
});

test('a version failing its health check is rolled back: the step fails and the previous version still answers', async () => {
  const portsBefore = await assertAllServe('v4');
  const { result, lines } = await runDeploy({ image: image('broken'), strategy: 'rolling', rollback_on_failure: true });
  assert.equal(result.state, 'failed', lines.join('\n'));
  assert.equal(result.outputs?.status, 'rolled_back');
  assert.match(result.error ?? '', /unhealthy.*404.*rolled back to the previous version/);
  assert.deepEqual(await assertAllServe('v4'), portsBefore);
  assert.deepEqual(await versionsOfAllContainers(), ['v4', 'v4']);
  assert.equal(await answer(String(result.outputs?.url)), 'v4');
  assert.equal((await provider.status(app, environment)).version, 'v4');
});

test('cancelling a deploy stops it, removes the new instances and leaves the previous version live', async () => {
  const controller = new AbortController();
  const lines: string[] = [];
  const deploying = runDeploy(
    { image: image('v5'), strategy: 'canary', canary: { steps: [{ weight: 50, pause: '60s' }] } },
    { lines, signal: controller.signal },
  );
  await waitForLine(lines, /^canary 50%: holding/);
  const cancelledAt = Date.now();
  controller.abort();
  const { result } = await deploying;
  assert.ok(Date.now() - cancelledAt < 15_000, 'the cancel did not interrupt the pause');
  assert.equal(result.state, 'cancelled', `${result.error}\n${lines.join('\n')}`);
  assert.equal(result.outputs?.status, 'rolled_back');
  await assertAllServe('v4');
  assert.deepEqual(await versionsOfAllContainers(), ['v4', 'v4']);
});

test('the provider rolls back to the release before the live one', async () => {
  const lines: string[] = [];
  const outcome = await provider.rollback(app, environment, { log: (line) => lines.push(line), signal: new AbortController().signal });
  assert.equal(outcome.status, 'deployed', `${outcome.error}\n${lines.join('\n')}`);
  assert.equal(outcome.version, 'v3');
  await assertAllServe('v3');
  assert.equal((await provider.status(app, environment)).version, 'v3');
});

test('a cloud provider without its plugin and invalid configs fail clearly without touching the engine', async () => {
  const cloud = await runDeploy({ image: image('v1'), target: 'ecs' });
  assert.equal(cloud.result.state, 'failed');
  assert.match(
    cloud.result.error ?? '',
    /deploy provider "aws_ecs" comes from a plugin, and this deploy step carries none: list the plugin under requires.plugins/,
  );
  const noSteps = await runDeploy({ image: image('v1'), strategy: 'canary' });
  assert.match(noSteps.result.error ?? '', /strategy canary needs canary.steps/);
  const stuck = await runDeploy({ image: image('v1'), rolling: { max_surge: 0, max_unavailable: 0 } });
  assert.match(stuck.result.error ?? '', /cannot both be 0/);
  const missing = await runDeploy({ image: image('v1'), target: 'nowhere' });
  assert.match(missing.result.error ?? '', /deploy target "nowhere" is not defined/);
  await assertAllServe('v3');
});
