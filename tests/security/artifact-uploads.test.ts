import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiCallError, RunnerApi } from '../../runners/daemon/client.ts';
import { ARTIFACT_PART_BYTES, RUNNER_ROUTES } from '../../runners/protocol/v1.ts';
import { publishWorkflow, startRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** A runner holding the one job of a fresh run of a workflow that only it can claim. */
async function holder(server: TestServer, label: string) {
  const api = new RunnerApi(server.url);
  const { token } = await api.register({ registrationToken: await server.registrationToken(), name: label, labels: [label] });
  api.setToken(token);
  const yaml = `name: ${label}\npipelines:\n  main:\n    runs_on: [${label}]\n    steps:\n      - name: push\n        type: step.artifact_push\n        config: { key: site, path: dist }\n`;
  await startRun(server, await publishWorkflow(server, label, yaml));
  const answer = await api.claim(5);
  assert.ok(answer, `${label} holds a job`);
  return { api, jobId: answer.job.jobId };
}

/** The status and error code of a refused call. */
async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ApiCallError, String(error));
    return `${error.status} ${error.code}`;
  }
  assert.fail('the call was accepted');
}

describe('multipart artifact uploads serve only the job and key they were started for', () => {
  let server: TestServer;
  let a: Awaited<ReturnType<typeof holder>>;
  let b: Awaited<ReturnType<typeof holder>>;
  let uploadId: string;
  before(async () => {
    server = await startTestServer();
    a = await holder(server, 'uploads-a');
    b = await holder(server, 'uploads-b');
    ({ uploadId } = await a.api.callRoute(RUNNER_ROUTES.startArtifactUpload, { jobId: a.jobId }, { key: 'site' }));
  });
  after(() => server.close());

  const part = { key: 'site', partNumber: 1, size: 1024 };

  test("another runner cannot sign, complete or abort a part of this job's upload", async () => {
    assert.equal(await refusal(b.api.callRoute(RUNNER_ROUTES.artifactPartUrl, { jobId: b.jobId }, { ...part, uploadId })), '403 upload_refused');
    assert.equal(await refusal(b.api.callRoute(RUNNER_ROUTES.artifactPartUrl, { jobId: a.jobId }, { ...part, uploadId })), '409 job_not_held');
    const complete = { key: 'site', uploadId, size: 1, sha256: 'a'.repeat(64), parts: [{ partNumber: 1, etag: '"1"' }] };
    assert.equal(await refusal(b.api.callRoute(RUNNER_ROUTES.completeArtifactUpload, { jobId: b.jobId }, complete)), '403 upload_refused');
    assert.equal(await refusal(b.api.callRoute(RUNNER_ROUTES.abortArtifactUpload, { jobId: b.jobId }, { key: 'site', uploadId })), '403 upload_refused');
    const signed = await a.api.callRoute(RUNNER_ROUTES.artifactPartUrl, { jobId: a.jobId }, { ...part, uploadId });
    assert.equal(signed.method, 'PUT', 'the upload is intact for the job that started it');
  });

  test('an upload id is refused for another key, and when forged', async () => {
    assert.equal(await refusal(a.api.callRoute(RUNNER_ROUTES.artifactPartUrl, { jobId: a.jobId }, { ...part, key: 'other', uploadId })), '403 upload_refused');
    const [body, mac] = uploadId.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { owner: string };
    const forged = `${Buffer.from(JSON.stringify({ ...claims, owner: b.jobId })).toString('base64url')}.${mac}`;
    assert.equal(await refusal(b.api.callRoute(RUNNER_ROUTES.artifactPartUrl, { jobId: b.jobId }, { ...part, uploadId: forged })), '403 upload_refused');
    assert.equal(
      await refusal(a.api.callRoute(RUNNER_ROUTES.artifactPartUrl, { jobId: a.jobId }, { ...part, uploadId: 'x'.repeat(2001) })),
      '400 invalid_request',
    );
  });

  test('parts are bounded: their size, their number, their URL and their body', async () => {
    const sign = (request: Partial<typeof part>) => a.api.callRoute(RUNNER_ROUTES.artifactPartUrl, { jobId: a.jobId }, { ...part, ...request, uploadId });
    assert.equal(await refusal(sign({ size: ARTIFACT_PART_BYTES + 1 })), '400 invalid_artifact');
    assert.equal(await refusal(sign({ partNumber: 10_001 })), '400 invalid_request');
    assert.equal(await refusal(sign({ partNumber: 641 })), '413 too_large', '5 GiB in 8 MiB parts is 640 parts');
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ partNumber: i + 1, etag: '"x"' }));
    assert.equal(
      await refusal(
        a.api.callRoute(RUNNER_ROUTES.completeArtifactUpload, { jobId: a.jobId }, { key: 'site', uploadId, size: 1, sha256: 'a'.repeat(64), parts: tooMany }),
      ),
      '400 invalid_request',
    );

    const signed = await sign({});
    const moved = new URL(signed.url);
    moved.searchParams.set('offset', String(ARTIFACT_PART_BYTES));
    const elsewhere = await fetch(moved, { method: 'PUT', headers: signed.headers, body: Buffer.alloc(1024) });
    assert.equal(elsewhere.status, 403, 'a part URL cannot be pointed at another offset');
    const longer = await fetch(signed.url, { method: 'PUT', headers: { 'content-length': '2048' }, body: Buffer.alloc(2048) });
    assert.equal(longer.status, 413, 'a part larger than signed is refused');
    const fits = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: Buffer.alloc(1024) });
    assert.equal(fits.status, 200);
  });
});
