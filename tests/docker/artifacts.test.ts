import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { finished, json, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';
import { S3_CREDENTIALS, startS3 } from '../helpers/s3.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const producer = `name: producer
pipelines:
  main:
    runs_on: [docker]
    steps:
      - name: build
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands: ["mkdir -p dist", "echo 'hello artifact' > dist/index.html", "head -c 100000 /dev/urandom > dist/blob.bin"]
          artifacts_out: [{ key: site, path: dist }]
      - name: consume
        type: step.artifact_pull
        config: { key: site, dest: copy }
      - name: check
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["cat copy/dist/index.html", "wc -c < copy/dist/blob.bin"] }
      - name: later
        type: step.artifact_pull
        if: "{{ eq .meta.run_number 2 }}"
        config: { key: site, from_run: latest_success, dest: previous }
`;

async function exercise(server: TestServer) {
  const runner = await runnerFor(server, `artifact-runner-${Date.now()}`);
  try {
    const id = await publishWorkflow(server, 'producer', producer);
    const run = await waitForRun(server, (await startRun(server, id)).id, finished);
    assert.equal(run.state, 'succeeded', JSON.stringify(run.steps));
    const checked = await rawLog(server, run.id, 'check');
    assert.match(checked, /^hello artifact$/m);
    assert.match(checked, /^\s*100000$/m);
    assert.equal(run.steps[1].outputs.key, 'site');

    const listed = await json(await server.call('GET', `/api/runs/${run.id}/artifacts`));
    assert.equal(listed.artifacts.length, 1);
    const [artifact] = listed.artifacts;
    assert.equal(artifact.key, 'site');
    const download = await fetch(`${server.url}/api/runs/${run.id}/artifacts/download?key=site`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    assert.equal(download.status, 200);
    const bytes = Buffer.from(await download.arrayBuffer());
    assert.equal(bytes.length, artifact.size);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), artifact.sha256);
    assert.ok(bytes.includes(Buffer.from('hello artifact')), 'the tar holds the file');

    const second = await waitForRun(server, (await startRun(server, id)).id, finished);
    assert.equal(second.state, 'succeeded');
    assert.equal(second.steps[3].state, 'succeeded', 'pulled from the earlier run');
    assert.equal(second.steps[3].outputs.checksum, artifact.sha256);

    const missing = await fetch(`${server.url}/api/runs/${run.id}/artifacts/download?key=nope`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    assert.equal(missing.status, 404);
    return artifact;
  } finally {
    await runner.stop();
  }
}

describe('artifacts through signed URLs', () => {
  test('the embedded store: upload from a step, pull in a later step and a later run, download with a verified hash', async () => {
    const server = await startTestServer();
    try {
      await exercise(server);
      const stored = await server.database.client.execute('select storage_key from artifacts');
      assert.match(String(stored.rows[0]!.storage_key), /^runs\/[0-9a-f-]+\/site$/);
    } finally {
      await server.close();
    }
  });

  test('an S3-compatible store (a real s3rver) through the same code path', async () => {
    const s3 = await startS3('flowyard-artifacts');
    const server = await startTestServer({ env: { ARTIFACTS_URL: s3.url, ...S3_CREDENTIALS } });
    after(() => s3.close());
    try {
      await exercise(server);
      const download = await fetch(
        `${server.url}/api/runs/${(await json(await server.call('GET', `/api/workflows/${(await json(await server.call('GET', '/api/workflows'))).workflows[0].id}/runs`))).runs[0].id}/artifacts/download?key=site`,
        { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, redirect: 'manual' },
      );
      assert.equal(download.status, 302);
      assert.ok(download.headers.get('location')!.startsWith(s3.endpoint), 'downloads go straight to the bucket');
    } finally {
      await server.close();
    }
  });

  test('the runner cannot upload outside its run or past the checks', async () => {
    const server = await startTestServer();
    try {
      const { RunnerApi } = await import('../../runners/daemon/client.ts');
      const api = new RunnerApi(server.url);
      const registered = (await api.call<{ token: string }>('POST', '/register', {
        registrationToken: await server.registrationToken(),
        name: 'prober',
        labels: ['docker'],
      }))!;
      api.setToken(registered.token);
      const id = await publishWorkflow(server, 'probe', producer);
      await startRun(server, id);
      const { job } = (await api.call<{ job: { jobId: string } }>('POST', '/claim', { waitSeconds: 5 }))!;
      const sha = 'a'.repeat(64);
      await assert.rejects(api.call('POST', `/jobs/${job.jobId}/artifacts/upload-url`, { key: '../escape', size: 1, sha256: sha }), /400.*\.\./);
      await assert.rejects(api.call('POST', `/jobs/${job.jobId}/artifacts/upload-url`, { key: '/abs', size: 1, sha256: sha }), /400/);
      await assert.rejects(api.call('POST', `/jobs/${job.jobId}/artifacts/upload-url`, { key: 'big', size: 6 * 1024 ** 3, sha256: sha }), /413/);
      await assert.rejects(api.call('POST', `/jobs/${job.jobId}/artifacts/commit`, { key: 'never-uploaded', size: 1, sha256: sha }), /422/);
      const signed = (await api.call<{ url: string; headers: Record<string, string> }>('POST', `/jobs/${job.jobId}/artifacts/upload-url`, {
        key: 'ok',
        size: 5,
        sha256: createHash('sha256').update('hello').digest('hex'),
      }))!;
      const wrong = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: 'jello' });
      assert.equal(wrong.status, 422);
    } finally {
      await server.close();
    }
  });
});
