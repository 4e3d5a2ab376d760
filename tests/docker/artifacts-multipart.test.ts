import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { RunnerApi } from '../../runners/daemon/client.ts';
import { httpArtifacts } from '../../runners/daemon/http-artifacts.ts';
import { ARTIFACT_PART_BYTES, RUNNER_ROUTES } from '../../runners/protocol/v1.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { finished, json, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';
import { S3_CREDENTIALS, startS3 } from '../helpers/s3.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const MiB = 1024 * 1024;
/** 2.5 parts: three PUTs, the last one short. */
const BIG = Math.round(2.5 * ARTIFACT_PART_BYTES);

const workflow = `name: multipart
pipelines:
  main:
    runs_on: [docker]
    steps:
      - name: make
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["head -c ${BIG} /dev/urandom > big.bin", "sha256sum big.bin | cut -c1-64 > big.sha"] }
      - name: push
        type: step.artifact_push
        config: { key: big, path: big.bin }
      - name: pull
        type: step.artifact_pull
        config: { key: big, dest: copy }
      - name: check
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo \\"$(cat big.sha)  copy/big.bin\\" | sha256sum -c"] }
`;

/** A job of a fresh run, held by a runner talking the protocol directly. */
async function heldJob(server: TestServer, name: string) {
  const api = new RunnerApi(server.url);
  const { token } = await api.register({ registrationToken: await server.registrationToken(), name, labels: ['held'] });
  api.setToken(token);
  const id = await publishWorkflow(server, `held-${name}`, workflow.replace('runs_on: [docker]', 'runs_on: [held]'));
  await startRun(server, id);
  const answer = await api.claim(5);
  assert.ok(answer, 'a job to hold');
  return { api, jobId: answer.job.jobId, runId: answer.job.runId };
}

/** A stream of `size` deterministic bytes in 1 MiB chunks, failing after `failAfter` bytes when given. */
function bytes(size: number, failAfter?: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) return this.destroy(new Error('the tar stream broke'));
      if (sent >= size) return this.push(null);
      const chunk = Buffer.alloc(Math.min(MiB, size - sent), sent / MiB);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

async function roundTrip(server: TestServer) {
  const runner = await runnerFor(server, `multipart-${Date.now()}`);
  try {
    const id = await publishWorkflow(server, 'multipart', workflow);
    const run = await waitForRun(server, (await startRun(server, id)).id, finished);
    assert.equal(run.state, 'succeeded', JSON.stringify(run.steps));
    assert.match(await rawLog(server, run.id, 'check'), /copy\/big\.bin: OK/);
    const [artifact] = (await json(await server.call('GET', `/api/runs/${run.id}/artifacts`))).artifacts;
    assert.ok(artifact.size > 2 * ARTIFACT_PART_BYTES, `three parts: ${artifact.size} bytes`);
    assert.equal(run.steps[1].outputs.checksum, artifact.sha256);
    const download = await fetch(`${server.url}/api/runs/${run.id}/artifacts/download?key=big`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    const body = Buffer.from(await download.arrayBuffer());
    assert.equal(body.length, artifact.size);
    assert.equal(createHash('sha256').update(body).digest('hex'), artifact.sha256, 'the stored bytes have the recorded SHA-256');
  } finally {
    await runner.stop();
  }
}

/** Size and SHA-256 mismatches are refused at complete; a broken stream and an explicit abort leave no parts behind. */
async function refusalsAndCleanup(server: TestServer, kind: 'local' | 's3', openUploads: () => string[]) {
  const { api, jobId, runId } = await heldJob(server, `checks-${Date.now()}`);
  const artifacts = httpArtifacts(api, jobId);
  const size = ARTIFACT_PART_BYTES + MiB;
  const stored = await artifacts.upload('direct', bytes(size));
  assert.equal(stored.size, size);

  const start = await api.callRoute(RUNNER_ROUTES.startArtifactUpload, { jobId }, { key: 'lies' });
  const part = Buffer.alloc(ARTIFACT_PART_BYTES, 7);
  const tail = Buffer.alloc(MiB, 8);
  const parts: Array<{ partNumber: number; etag: string; sha256: string }> = [];
  for (const [i, chunk] of [part, tail].entries()) {
    const sha256 = createHash('sha256').update(chunk).digest('hex');
    const signed = await api.callRoute(
      RUNNER_ROUTES.artifactPartUrl,
      { jobId },
      { key: 'lies', uploadId: start.uploadId, partNumber: i + 1, size: chunk.length, sha256 },
    );
    const response = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: chunk });
    assert.equal(response.status, 200, await response.text());
    parts.push({ partNumber: i + 1, etag: response.headers.get('etag')!, sha256 });
  }
  const sha256 = createHash('sha256').update(part).update(tail).digest('hex');
  const complete = (claim: { size: number; sha256: string }) =>
    api.callRoute(RUNNER_ROUTES.completeArtifactUpload, { jobId }, { key: 'lies', uploadId: start.uploadId, parts, ...claim });
  await assert.rejects(complete({ size: size - 1, sha256 }), /(400|422).*(bytes|size)/, 'a size the parts do not have is refused');
  await assert.rejects(complete({ size: 3 * ARTIFACT_PART_BYTES, sha256 }), /422.*cannot hold/, 'more bytes than the parts can hold is refused');
  // S3 checks each part's SHA-256 (signed into its URL); the embedded store checks the whole file's at complete.
  if (kind === 'local') await assert.rejects(complete({ size, sha256: 'f'.repeat(64) }), /422.*SHA-256/, 'another SHA-256 is refused');

  await api.callRoute(RUNNER_ROUTES.abortArtifactUpload, { jobId }, { key: 'lies', uploadId: start.uploadId });
  assert.deepEqual(openUploads(), []);

  const dropped = await api.callRoute(RUNNER_ROUTES.startArtifactUpload, { jobId }, { key: 'dropped' });
  const signed = await api.callRoute(
    RUNNER_ROUTES.artifactPartUrl,
    { jobId },
    { key: 'dropped', uploadId: dropped.uploadId, partNumber: 1, size: tail.length, sha256: createHash('sha256').update(tail).digest('hex') },
  );
  assert.equal((await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: tail })).status, 200);
  assert.equal(openUploads().length, 1, 'the part is kept while the upload is open');
  await api.callRoute(RUNNER_ROUTES.abortArtifactUpload, { jobId }, { key: 'dropped', uploadId: dropped.uploadId });
  assert.deepEqual(openUploads(), [], 'abort drops the parts');

  await assert.rejects(artifacts.upload('broken', bytes(3 * ARTIFACT_PART_BYTES, 2 * ARTIFACT_PART_BYTES + MiB)), /the tar stream broke/);
  assert.deepEqual(openUploads(), [], 'a push that fails aborts its upload');
  const listed = (await json(await server.call('GET', `/api/runs/${runId}/artifacts`))).artifacts;
  assert.deepEqual(
    listed.map((artifact: { key: string }) => artifact.key),
    ['direct'],
    'only the upload that completed and checked out is recorded',
  );
}

describe('multipart artifact uploads', () => {
  test('the embedded store: a three-part push and pull round trip, refusals, abort and a failed push leave nothing', async () => {
    const server = await startTestServer();
    const tmp = join(server.database.dir, 'artifacts', 'tmp');
    const openUploads = () => (existsSync(tmp) ? readdirSync(tmp).filter((name) => name.endsWith('.multipart')) : []);
    try {
      await roundTrip(server);
      assert.deepEqual(openUploads(), []);
      await refusalsAndCleanup(server, 'local', openUploads);
    } finally {
      await server.close();
    }
  });

  test('S3 (a real s3rver): the same push, parts in parallel through presigned URLs', async () => {
    const s3 = await startS3('flowyard-multipart');
    after(() => s3.close());
    const server = await startTestServer({ env: { ARTIFACTS_URL: s3.url, ...S3_CREDENTIALS } });
    const openUploads = () => (existsSync(s3.uploadsDir()) ? readdirSync(s3.uploadsDir()) : []);
    try {
      await roundTrip(server);
      assert.deepEqual(openUploads(), [], 'the completed upload left no parts');
      await refusalsAndCleanup(server, 's3', openUploads);
    } finally {
      await server.close();
    }
  });
});
