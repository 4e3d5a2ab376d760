// One workflow must not poison another through the shared engine's images. Run A (hostile) builds an image
// under a name run B uses; B must not execute it, whether B names it plainly, by A's run namespace, or finds
// a local tag A left under a registry name. The shipped base images cannot be re-tagged, and a run's images
// are gone once the run ends. Real jobs on the real engine and the local registry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImageRef } from '../../runners/docker/run-images.ts';
import { BASE_IMAGE, docker, imagesOfRun, removeRunLeftovers, requireEngine, runJob, steps } from '../helpers/isolation.ts';

const REGISTRY = '127.0.0.1:5000';
const nonce = randomUUID().slice(0, 8);
const runA = `images-a-${nonce}`;
const runB = `images-b-${nonce}`;
const runC = `images-c-${nonce}`;
const victim = `victim/app:${nonce}`;
const registryVictim = `${REGISTRY}/victim/app:${nonce}`;
const NOT_AVAILABLE = (ref: string) => `image ${ref} is not available: pull it from a registry or build it in this run`;
const NOT_FOUND = (ref: string) =>
  new RegExp(`^image "${ref.replaceAll('.', '\\.')}" not found locally and pull failed: .+ \\(pull it from a registry or build it in this run\\)$`);
let artifactsDir = '';
let pushedDigest: string | undefined;
let hostileImageId = '';

/** Run A's first job: builds `victim` with a marker file, uses it, and (a gate follows) keeps its workspace. */
const hostileBuild = steps(
  [
    'step.shell_exec',
    { image: BASE_IMAGE, commands: ['mkdir -p app', `printf 'FROM ${BASE_IMAGE}\\nRUN echo "poisoned by ${runA}" > /poison\\n' > app/Dockerfile`] },
  ],
  ['step.docker_build', { context: 'app', tags: [victim] }],
  ['step.shell_exec', { image: victim, commands: ['cat /poison'] }],
);

const useVictim = (image: string, pullPolicy = 'if_not_present') =>
  steps(['step.shell_exec', { image, pull_policy: pullPolicy, commands: ['if [ -e /poison ]; then cat /poison; else echo "clean image"; fi'] }]);

async function pushFollow(stream: NodeJS.ReadableStream): Promise<Array<{ error?: string; aux?: { Digest?: string } }>> {
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (error: Error | null, output: Array<{ error?: string }>) => (error ? reject(error) : resolve(output))),
  );
}

before(async () => {
  await requireEngine();
  const registry = await fetch(`http://${REGISTRY}/v2/`).catch((error: unknown) => assert.fail(`registry ${REGISTRY} not reachable (${String(error)})`));
  assert.equal(registry.status, 200);
  artifactsDir = await mkdtemp(join(tmpdir(), 'flowyard-images-'));
});

after(async () => {
  await removeRunLeftovers([runA, runB, runC]);
  for (const ref of [victim, registryVictim])
    await docker
      .getImage(ref)
      .remove({ force: true })
      .catch(() => undefined);
  if (pushedDigest) await fetch(`http://${REGISTRY}/v2/victim/app/manifests/${pushedDigest}`, { method: 'DELETE' }).catch(() => undefined);
  if (artifactsDir) await rm(artifactsDir, { recursive: true, force: true });
});

test('an image one run builds is not executed by another run under the name it was given', async () => {
  const a = await runJob({ runId: runA, steps: hostileBuild, saveWorkspace: '_workspace/job-0' }, { artifactsDir });
  assert.equal(a.result.state, 'succeeded', `${a.result.error}\n${a.log(1)}`);
  assert.match(a.log(2), new RegExp(`poisoned by ${runA}`), 'the run itself uses its build under the name it gave');
  assert.notEqual((await imagesOfRun(runA)).length, 0, 'kept for the job after the gate');
  hostileImageId = String(a.reports.get(1)?.outputs?.image_id);

  const plain = await runJob({ runId: runB, steps: useVictim(victim) });
  assert.equal(plain.result.state, 'failed');
  assert.match(plain.reports.get(0)?.error ?? '', NOT_FOUND(victim));
  assert.doesNotMatch(plain.log(0), /poisoned/);

  const namespaced = runImageRef(runA, victim);
  const direct = await runJob({ runId: runB, steps: useVictim(namespaced) });
  assert.equal(direct.result.state, 'failed');
  assert.ok(direct.reports.get(0)?.error?.startsWith(NOT_AVAILABLE(namespaced)), direct.reports.get(0)?.error);
  assert.doesNotMatch(direct.log(0), /poisoned/);
});

test('a local tag another run made is never used in place of the registry image', async () => {
  // The registry holds the real image under the name; a run then leaves its own image under that name locally.
  const at = registryVictim.lastIndexOf(':');
  await docker.getImage(BASE_IMAGE).tag({ repo: registryVictim.slice(0, at), tag: nonce });
  const pushed = await pushFollow(await docker.getImage(registryVictim).push({ authconfig: { serveraddress: REGISTRY } }));
  assert.deepEqual(
    pushed.filter((event) => event.error),
    [],
  );
  pushedDigest = pushed.find((event) => event.aux?.Digest)?.aux?.Digest;
  await docker.getImage(registryVictim).remove();
  await docker.getImage(hostileImageId).tag({ repo: registryVictim.slice(0, at), tag: nonce });

  const offline = await runJob({ runId: runB, steps: useVictim(registryVictim, 'never') });
  assert.equal(offline.result.state, 'failed');
  assert.ok(offline.reports.get(0)?.error?.startsWith(NOT_AVAILABLE(registryVictim)), offline.reports.get(0)?.error);

  const pulled = await runJob({ runId: runB, steps: useVictim(registryVictim) });
  assert.equal(pulled.result.state, 'succeeded', pulled.result.error);
  assert.match(pulled.log(0), /clean image/);
  assert.doesNotMatch(pulled.log(0), /poisoned/);
});

test('the shipped base images cannot be re-tagged by a build', async () => {
  const before = (await docker.getImage(BASE_IMAGE).inspect()).Id;
  const localBefore = (
    await docker
      .getImage('local/busybox:latest')
      .inspect()
      .catch(() => undefined)
  )?.Id;
  const job = steps(
    ['step.shell_exec', { image: BASE_IMAGE, commands: ['mkdir -p app', `printf 'FROM ${BASE_IMAGE}\\nLABEL hostile=${nonce}\\n' > app/Dockerfile`] }],
    ['step.docker_build', { context: 'app', tags: [BASE_IMAGE] }],
    ['step.docker_build', { context: 'app', tags: ['local/busybox:latest'] }],
    ['step.docker_build', { context: 'app', tags: [`ok/app:${nonce}`, 'docker.io/flowyard/busybox:latest'] }],
  ).map((step) => ({ ...step, continueOnError: true }));
  const hostile = await runJob({ runId: runC, steps: job });
  for (const [index, name] of [
    [1, BASE_IMAGE],
    [2, 'local/busybox:latest'],
    [3, 'docker.io/flowyard/busybox:latest'],
  ] as const) {
    assert.equal(hostile.reports.get(index)?.state, 'failed');
    assert.match(hostile.reports.get(index)?.error ?? '', new RegExp(`^image name ${name.replaceAll('.', '\\.')} is reserved .*; choose another name$`));
  }
  assert.equal((await docker.getImage(BASE_IMAGE).inspect()).Id, before);
  assert.equal(
    (
      await docker
        .getImage('local/busybox:latest')
        .inspect()
        .catch(() => undefined)
    )?.Id,
    localBefore,
  );
});

test('when the run ends, its images are gone; until then its later jobs still find them', async () => {
  const last = await runJob({ runId: runA, steps: useVictim(victim), restoreWorkspace: '_workspace/job-0' }, { artifactsDir });
  assert.equal(last.result.state, 'succeeded', last.result.error);
  assert.match(last.log(0), new RegExp(`poisoned by ${runA}`), 'the job after the gate uses the build of the job before it');
  assert.deepEqual(await imagesOfRun(runA), []);
});
