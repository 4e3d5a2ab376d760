// Drives step.docker_build, step.docker_run and step.docker_push against the real Docker engine and the
// local registry prepared by scripts/setup/docker.sh.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerClient, describeDockerHost, imageExists, pingDocker, statusCodeOf } from '../../runners/docker/engine.ts';
import { runImageRef } from '../../runners/docker/run-images.ts';
import { runShellStep } from '../../runners/docker/shell-exec.ts';
import { createWorkspaceVolume, removeWorkspaceVolume } from '../../runners/docker/workspace.ts';
import { dockerBuild } from '../../runners/executors/docker-build.ts';
import { dockerPush } from '../../runners/executors/docker-push.ts';
import { dockerRun } from '../../runners/executors/docker-run.ts';
import type { StepExecutor, StepResult } from '../../runners/executors/types.ts';
import type { JobSpec } from '../../runners/protocol/v1.ts';
import { testJobSpec } from '../helpers/job-spec.ts';

const BASE_IMAGE = 'flowyard/busybox:latest';
const REGISTRY = '127.0.0.1:5000';
const REPOSITORY = 'flowyard-test/app';

const docker = createDockerClient();
const suffix = randomUUID().slice(0, 8);
const runId = `docker-steps-${suffix}`;
const localTag = `${REPOSITORY}:${suffix}`;
const registryTag = `${REGISTRY}/${REPOSITORY}:${suffix}`;
const password = `pw-${randomUUID()}`;
const pushedDigests = new Set<string>();
let workspaceVolume = '';
let tempDir = '';
let closedPort = 0;
let stepIndex = 0;

interface StepRun {
  result: StepResult;
  output: string;
  lines: string[];
  firstOutputAt: number | undefined;
  durationMs: number;
}

function jobSpec(): JobSpec {
  const registryModule = (url: string, extra: Record<string, unknown> = {}) => ({ type: 'docker.registry', config: { url, insecure: true, ...extra } });
  return testJobSpec({
    runId,
    workflow: 'docker-steps-test',
    pipeline: 'build',
    secrets: { REGISTRY_PASSWORD: password },
    modules: {
      local: registryModule(REGISTRY, { username: 'ci', password_secret: 'REGISTRY_PASSWORD' }),
      closed: registryModule(`127.0.0.1:${closedPort}`),
      artifacts: { type: 'artifact.store', config: {} },
    },
  });
}

async function runStep(executor: StepExecutor, name: string, config: Record<string, unknown>, signal = new AbortController().signal): Promise<StepRun> {
  const startedAt = performance.now();
  const chunks: string[] = [];
  const lines: string[] = [];
  let firstOutputAt: number | undefined;
  const result = await executor({
    job: jobSpec(),
    step: { index: stepIndex++, name, type: 'test', config, timeoutMs: null, continueOnError: false },
    config,
    context: {},
    env: { FROM_PIPELINE: 'pipeline-value' },
    docker,
    workspaceVolume,
    helperImage: BASE_IMAGE,
    tempDir,
    artifacts: {
      upload: () => Promise.reject(new Error('no artifacts in these tests')),
      download: () => Promise.reject(new Error('no artifacts in these tests')),
    },
    output(bytes) {
      firstOutputAt ??= performance.now() - startedAt;
      chunks.push(Buffer.from(bytes).toString('utf8'));
    },
    log: (line) => lines.push(line),
    signal,
  });
  return { result, output: chunks.join(''), lines, firstOutputAt, durationMs: performance.now() - startedAt };
}

async function containerGone(id: unknown): Promise<boolean> {
  try {
    await docker.getContainer(String(id)).inspect();
    return false;
  } catch (error) {
    return statusCodeOf(error) === 404;
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

before(async () => {
  if (!(await pingDocker(docker))) {
    assert.fail(`Docker engine not reachable at ${describeDockerHost()}: run "bash scripts/setup/docker.sh" first`);
  }
  assert.ok(await imageExists(docker, BASE_IMAGE), `image ${BASE_IMAGE} missing: run "bash scripts/setup/docker.sh" first`);
  const registry = await fetch(`http://${REGISTRY}/v2/`).catch((error: unknown) =>
    assert.fail(`registry ${REGISTRY} not reachable (${String(error)}): run "bash scripts/setup/docker.sh" first`),
  );
  assert.equal(registry.status, 200);

  tempDir = await mkdtemp(join(tmpdir(), 'flowyard-docker-steps-'));
  closedPort = await freeLoopbackPort();
  workspaceVolume = await createWorkspaceVolume(docker, runId, { 'flowyard.run': runId });
  const prepared = await runShellStep(
    docker,
    {
      image: BASE_IMAGE,
      workspaceVolume,
      labels: { 'flowyard.run': runId },
      commands: [
        'mkdir -p app && cd app',
        'echo "hello from the context" > hello.txt',
        `printf '%s\\n' 'FROM ${BASE_IMAGE}' 'ARG GREETING=none' 'COPY hello.txt /hello.txt' 'RUN echo "greeting is $GREETING" && sleep 1 && echo "$GREETING" > /greeting.txt' > Dockerfile`,
        `printf '%s\\n' 'FROM ${BASE_IMAGE}' 'RUN echo about to fail && exit 7' > Dockerfile.fail`,
        `printf '%s\\n' 'FROM ${BASE_IMAGE}' 'RUN echo slow build ${suffix} && sleep 30' > Dockerfile.slow`,
        'echo not a folder > plain.txt',
      ],
    },
    { onOutput: () => undefined },
  );
  assert.equal(prepared.status, 'succeeded', prepared.error);
});

after(async () => {
  for (const container of await docker.listContainers({ all: true, filters: { label: [`flowyard.run=${runId}`] } })) {
    await docker.getContainer(container.Id).remove({ force: true });
  }
  for (const image of await docker.listImages({ filters: { label: [`flowyard.run=${runId}`] } })) {
    await docker.getImage(image.Id).remove({ force: true });
  }
  for (const digest of pushedDigests) await fetch(`http://${REGISTRY}/v2/${REPOSITORY}/manifests/${digest}`, { method: 'DELETE' });
  if (workspaceVolume) await removeWorkspaceVolume(docker, workspaceVolume);
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});

test('docker_build builds the context folder with every tag and the build args, streaming the output', async () => {
  const run = await runStep(dockerBuild, 'build', { context: 'app', tags: [localTag, registryTag], build_args: { GREETING: suffix } });
  assert.equal(run.result.state, 'succeeded', `${run.result.error ?? ''}\n${run.output}`);
  assert.ok(run.output.includes(`greeting is ${suffix}`), run.output);
  assert.ok(
    run.firstOutputAt !== undefined && run.firstOutputAt < run.durationMs - 800,
    `first output at ${run.firstOutputAt} ms of ${run.durationMs} ms: not streamed`,
  );

  // The tags exist in the run's namespace only; later steps of the run find them under the names given.
  const image = await docker.getImage(runImageRef(runId, localTag)).inspect();
  assert.equal(run.result.outputs?.image_id, image.Id);
  assert.deepEqual(run.result.outputs?.tags, [localTag, registryTag]);
  assert.deepEqual([...(image.RepoTags ?? [])].sort(), [runImageRef(runId, localTag), runImageRef(runId, registryTag)].sort());
  assert.equal(await imageExists(docker, localTag), false);
  assert.equal(image.Config.Labels?.['flowyard.run'], runId);
});

test('docker_build fails with the build error and keeps the build log', async () => {
  const run = await runStep(dockerBuild, 'build-fail', { context: 'app', dockerfile: 'Dockerfile.fail', tags: [`${localTag}-fail`] });
  assert.equal(run.result.state, 'failed');
  assert.match(run.result.error ?? '', /returned a non-zero code: 7/);
  assert.ok(run.output.includes('about to fail'), run.output);
  assert.equal(await imageExists(docker, `${localTag}-fail`), false);
  assert.equal(await imageExists(docker, runImageRef(runId, `${localTag}-fail`)), false);
});

test('docker_build fails clearly when the context is missing or not a folder', async () => {
  await assert.rejects(
    runStep(dockerBuild, 'build-missing', { context: 'nowhere', tags: [`${localTag}-missing`] }),
    /build context \/workspace\/nowhere not found/,
  );
  await assert.rejects(
    runStep(dockerBuild, 'build-file', { context: 'app/plain.txt', tags: [`${localTag}-file`] }),
    /build context \/workspace\/app\/plain.txt is not a folder/,
  );
});

test('docker_build stops following and cancels the build when the step is cancelled', async () => {
  const controller = new AbortController();
  const build = runStep(dockerBuild, 'build-cancel', { context: 'app', dockerfile: 'Dockerfile.slow', tags: [`${localTag}-slow`] }, controller.signal);
  const buildContainers = async () => (await docker.listContainers({ all: true })).filter((container) => container.Command.includes(`slow build ${suffix}`));
  for (let waited = 0; (await buildContainers()).length === 0; waited += 100) {
    assert.ok(waited < 15_000, 'the slow build did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  controller.abort();
  const run = await build;
  assert.equal(run.result.state, 'cancelled', run.result.error);
  // The engine cancels a classic build whose client went away and removes its container.
  for (let waited = 0; (await buildContainers()).length > 0; waited += 200) {
    assert.ok(waited < 10_000, 'the build container is still there after the step was cancelled');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

test('docker_run streams the output, fails on a non-zero exit and removes the container', async () => {
  const run = await runStep(dockerRun, 'run-exit', {
    image: localTag,
    command: ['sh', '-c', 'cat /hello.txt /greeting.txt; echo "$FROM_PIPELINE $FROM_STEP"; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; exit 3'],
    env: { FROM_STEP: 'step-value' },
  });
  assert.equal(run.result.state, 'failed');
  assert.equal(run.result.exitCode, 3);
  assert.equal(run.result.outputs?.exit_code, 3);
  assert.match(run.result.error ?? '', /exited with code 3/);
  assert.ok(run.output.includes(`hello from the context\n${suffix}\npipeline-value step-value\n`), run.output);
  assert.match(run.output, /CapEff:\s+0+\n/);
  assert.match(run.output, /NoNewPrivs:\s+1\n/);
  assert.ok(await containerGone(run.result.outputs?.container_id), 'container should be removed');
});

test('docker_run stops a container that outlives its timeout and removes it', async () => {
  const run = await runStep(dockerRun, 'run-timeout', { image: BASE_IMAGE, command: ['sleep', '30'], timeout: '1s' });
  assert.equal(run.result.state, 'timed_out', run.result.error);
  assert.equal(run.result.exitCode, null);
  assert.ok(run.durationMs < 8000, `took ${run.durationMs} ms`);
  assert.ok(await containerGone(run.result.outputs?.container_id), 'container should be removed');
});

test('docker_run stops the container when the step is cancelled', async () => {
  const controller = new AbortController();
  const cancel = setTimeout(() => controller.abort(), 1000);
  const run = await runStep(dockerRun, 'run-cancel', { image: BASE_IMAGE, command: ['sleep', '30'] }, controller.signal);
  clearTimeout(cancel);
  assert.equal(run.result.state, 'cancelled', run.result.error);
  assert.ok(run.durationMs < 8000, `took ${run.durationMs} ms`);
  assert.ok(await containerGone(run.result.outputs?.container_id), 'container should be removed');
});

test('docker_run with wait_for_exit false leaves the container running', async () => {
  const run = await runStep(dockerRun, 'run-detached', { image: BASE_IMAGE, command: ['sleep', '300'], wait_for_exit: false });
  assert.equal(run.result.state, 'succeeded', run.result.error);
  const container = docker.getContainer(String(run.result.outputs?.container_id));
  try {
    const info = await container.inspect();
    assert.equal(info.State.Running, true);
    assert.equal(info.Config.Labels['flowyard.run'], runId);
    assert.equal(info.Config.Labels['flowyard.detached'], 'true');
    assert.equal(info.HostConfig.NetworkMode, 'none');
    assert.equal(info.HostConfig.Privileged, false);
  } finally {
    await container.remove({ force: true });
  }
});

test('docker_push pushes the image and extra tags and reports the digest, without logging the password', async () => {
  const extraTag = `${suffix}-extra`;
  const run = await runStep(dockerPush, 'push', { image: registryTag, registry: 'local', tags: [extraTag] });
  assert.equal(run.result.state, 'succeeded', run.result.error);
  const digest = String(run.result.outputs?.digest);
  pushedDigests.add(digest);
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(run.result.outputs?.image, registryTag);
  assert.ok(
    run.lines.some((line) => line.includes(digest)),
    run.lines.join('\n'),
  );
  assert.ok(!run.lines.join('\n').includes(password), 'the registry password must not be logged');

  const listing = (await (await fetch(`http://${REGISTRY}/v2/${REPOSITORY}/tags/list`)).json()) as { tags: string[] };
  assert.ok(listing.tags.includes(suffix) && listing.tags.includes(extraTag), JSON.stringify(listing));
  // The registry names existed on the engine only while pushing: no other run can find them there.
  assert.equal(await imageExists(docker, registryTag), false);
  assert.equal(await imageExists(docker, `${REGISTRY}/${REPOSITORY}:${extraTag}`), false);
});

test('docker_push refuses an image not named for the registry', async () => {
  const run = await runStep(dockerPush, 'push-unnamed', { image: localTag, registry: 'local' });
  assert.equal(run.result.state, 'failed');
  assert.equal(run.result.error, `image "${localTag}" must be named ${REGISTRY}/... to push to registry "local"`);
});

test('docker_push fails clearly when the registry does not answer', async () => {
  const unreachableTag = `127.0.0.1:${closedPort}/${REPOSITORY}:${suffix}`;
  await docker.getImage(runImageRef(runId, localTag)).tag({ repo: `127.0.0.1:${closedPort}/${REPOSITORY}`, tag: suffix });
  const run = await runStep(dockerPush, 'push-closed', { image: unreachableTag, registry: 'closed' });
  assert.equal(run.result.state, 'failed');
  assert.match(run.result.error ?? '', new RegExp(`push of ${unreachableTag} to registry "closed" failed: .*connection refused`));
});

test('docker_push fails clearly for an unknown registry module', async () => {
  await assert.rejects(runStep(dockerPush, 'push-unknown', { image: registryTag, registry: 'nope' }), /registry module "nope" is not defined/);
  await assert.rejects(
    runStep(dockerPush, 'push-wrong-type', { image: registryTag, registry: 'artifacts' }),
    /module "artifacts" has type artifact.store, not docker.registry/,
  );
});
