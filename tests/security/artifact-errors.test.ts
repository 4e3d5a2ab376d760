import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serverSecret } from '../../server/cli/deps.ts';
import { ApiError } from '../../server/services/errors.ts';
import { ArtifactStoreUnavailableError, createArtifactStore, createS3Store, storeFailure } from '../../server/services/artifacts/index.ts';
import { commitArtifact } from '../../server/services/run-artifacts.ts';
import { testApi, type TestApi } from '../helpers/api.ts';
import { S3_CREDENTIALS, startS3 } from '../helpers/s3.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error;

async function closedLoopbackPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe('local artifact store failures reach the uploader as 503 with the cause', () => {
  let api: TestApi;
  before(async () => {
    api = await testApi();
  });
  after(() => api.database.cleanup());

  /** A PUT URL signed by the same store the app uses (same folder, same key). */
  async function signedPut(key: string, bytes: Uint8Array<ArrayBuffer>) {
    const store = createArtifactStore({
      dataDir: api.database.dir,
      publicUrl: 'http://127.0.0.1:8080',
      signingKey: `artifacts:${serverSecret(api.database.dir, {})}`,
      env: {},
    });
    const signed = await store.signUpload(`runs/run-1/${key}`, { size: bytes.byteLength, sha256: sha256(bytes) });
    const url = new URL(signed.url);
    return api.app.request(`${url.pathname}${url.search}`, { method: 'PUT', body: bytes, headers: signed.headers });
  }

  test('an upload into an artifact folder that has become a file answers 503 naming the path and the cause', async () => {
    const bytes = new TextEncoder().encode('build output');
    assert.equal((await signedPut('before.tar', bytes)).status, 201);
    const folder = join(api.database.dir, 'artifacts');
    rmSync(folder, { recursive: true, force: true });
    writeFileSync(folder, 'not a folder');
    const response = await signedPut('after.tar', bytes);
    assert.equal(response.status, 503);
    const error = await errorOf(response);
    assert.equal(error.code, 'artifact_store_unavailable');
    assert.ok(error.message.startsWith(`the artifact store could not write ${folder}/`), error.message);
    assert.match(error.message, /: a part of the path is a file, not a folder$/);
    assert.doesNotMatch(error.message, /\n\s+at /, 'no stack trace');
  });
});

describe('system errors are named, not passed on as a 500', () => {
  test('a full disk (a real ENOSPC from /dev/full) is 507 artifact_store_full', () => {
    let enospc: unknown;
    try {
      writeFileSync('/dev/full', 'x');
    } catch (error) {
      enospc = error;
    }
    assert.equal((enospc as NodeJS.ErrnoException).code, 'ENOSPC');
    const failure = storeFailure(enospc, 'write', '/data/artifacts/runs/r/a.tar');
    assert.ok(failure instanceof ArtifactStoreUnavailableError);
    assert.equal(failure.status, 507);
    assert.equal(failure.code, 'artifact_store_full');
    assert.equal(failure.message, 'the artifact store could not write /data/artifacts/runs/r/a.tar: no space left on the device (disk full)');
  });

  test('permission denied is 503 and says so', () => {
    const denied = Object.assign(new Error("EACCES: permission denied, open '/data/artifacts/tmp/x.part'"), {
      code: 'EACCES',
      path: '/data/artifacts/tmp/x.part',
    });
    const failure = storeFailure(denied, 'write', '/data/artifacts/tmp/x.part');
    assert.ok(failure instanceof ArtifactStoreUnavailableError);
    assert.equal(failure.status, 503);
    assert.equal(failure.message, 'the artifact store could not write /data/artifacts/tmp/x.part: permission denied');
  });

  test('errors that are not the store failing pass unchanged', () => {
    const bug = new TypeError('x is undefined');
    assert.equal(storeFailure(bug, 'write', '/x'), bug);
  });
});

describe('S3 artifact store failures', () => {
  let s3: Awaited<ReturnType<typeof startS3>>;
  let api: TestApi;
  before(async () => {
    s3 = await startS3('artifacts');
    api = await testApi();
  });
  after(async () => {
    await s3.close();
    api.database.cleanup();
  });

  const claim = { key: 'dist', size: 3, sha256: sha256(new TextEncoder().encode('abc')) };

  test('S3 down (a closed loopback port): committing an artifact answers 503 "connection refused"', async () => {
    const port = await closedLoopbackPort();
    const store = createS3Store(`s3://artifacts?endpoint=http://127.0.0.1:${port}&forcePathStyle=true`, S3_CREDENTIALS);
    const failure = await commitArtifact(api.database.db, store, 'run-1', claim).then(
      () => assert.fail('commit succeeded against a closed port'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof ApiError);
    assert.equal(failure.status, 503);
    assert.equal(failure.code, 'artifact_store_unavailable');
    assert.equal(failure.message, `the artifact store could not read runs/run-1/dist in S3 bucket "artifacts" at http://127.0.0.1:${port}: connection refused`);
  });

  test('a missing bucket is named as missing, not reported as a missing upload', async () => {
    const store = createS3Store(`s3://no-such-bucket?endpoint=${s3.endpoint}&forcePathStyle=true`, S3_CREDENTIALS);
    await assert.rejects(commitArtifact(api.database.db, store, 'run-1', claim), {
      status: 503,
      code: 'artifact_store_unavailable',
      message: `the artifact store could not read runs/run-1/dist: S3 bucket "no-such-bucket" at ${s3.endpoint} does not exist`,
    });
    // With the bucket there, a missing object is still the uploader's fault (422), not the store's.
    const present = createS3Store(`s3://artifacts?endpoint=${s3.endpoint}&forcePathStyle=true`, S3_CREDENTIALS);
    await assert.rejects(commitArtifact(api.database.db, present, 'run-1', claim), { status: 422, code: 'missing' });
  });
});
