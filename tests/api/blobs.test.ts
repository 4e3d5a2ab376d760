import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, test } from 'node:test';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { blobRoutesFor } from '../../server/api/routes/blobs.ts';
import { createLocalStore, type LocalStore } from '../../server/services/artifacts/local.ts';
import type { SignedUrl } from '../../server/services/artifacts/store.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let dir: string;
let server: ServerType;
let store: LocalStore;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowyard-blobs-'));
  const app = new Hono();
  app.route(
    '/api/blobs',
    blobRoutesFor(() => store),
  );
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => resolve(info.port));
  });
  store = createLocalStore({ dir, publicUrl: `http://127.0.0.1:${port}/`, signingKey: randomBytes(32) });
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const put = (signed: SignedUrl, body: BodyInit, headers: Record<string, string> = signed.headers) =>
  fetch(signed.url, { method: 'PUT', headers, body, duplex: 'half' } as RequestInit);

const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error;

/** The key was not stored and no temp file is left in `tmp/`. */
function assertNothingLeftBehind(storageKey: string) {
  assert.equal(existsSync(join(dir, storageKey)), false, `${storageKey} must not exist`);
  assert.deepEqual(existsSync(join(dir, 'tmp')) ? readdirSync(join(dir, 'tmp')) : [], [], 'no temp file may be left');
}

const CHUNK_BYTES = 256 * 1024;

/** A stream of `chunks` × 256 KiB chunks whose bytes depend on the chunk index, and its SHA-256. */
function generatedBody(chunks: number) {
  const chunkAt = (index: number) => new Uint8Array(CHUNK_BYTES).fill(index % 251);
  const hash = createHash('sha256');
  for (let index = 0; index < chunks; index++) hash.update(chunkAt(index));
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next === chunks) controller.close();
      else controller.enqueue(chunkAt(next++));
    },
  });
  return { stream, size: chunks * CHUNK_BYTES, sha256: hash.digest('hex') };
}

test('upload through the signed URL, then download the same bytes', async () => {
  const body = randomBytes(100_000);
  const storageKey = 'runs/run-1/dist/app.tar.gz';
  const upload = await store.signUpload(storageKey, { size: body.length, sha256: sha256(body) });
  assert.match(
    upload.url,
    /^http:\/\/127\.0\.0\.1:\d+\/api\/blobs\/runs\/run-1\/dist\/app\.tar\.gz\?op=put&exp=\d+&size=100000&sha256=[0-9a-f]{64}&sig=[0-9a-f]{64}$/,
  );
  const created = await put(upload, body);
  assert.equal(created.status, 201);
  assert.deepEqual(await created.json(), { storageKey, size: body.length, sha256: sha256(body) });
  assert.deepEqual(await store.stat(storageKey), { size: body.length });

  const download = await store.signDownload(storageKey, { filename: 'app \u00fc.tar.gz' });
  const got = await fetch(download.url);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'application/octet-stream');
  assert.equal(got.headers.get('content-length'), String(body.length));
  assert.equal(got.headers.get('content-disposition'), `attachment; filename="app _.tar.gz"; filename*=UTF-8''app%20%C3%BC.tar.gz`);
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), body);

  const plain = await fetch((await store.signDownload(storageKey)).url);
  assert.equal(plain.headers.get('content-disposition'), null);
  await plain.arrayBuffer();
});

test('a tampered URL is refused with 403 bad_signature', async () => {
  const body = Buffer.from('tamper');
  const upload = await store.signUpload('runs/run-1/t.txt', { size: body.length, sha256: sha256(body) });
  const url = new URL(upload.url);
  const sig = url.searchParams.get('sig') ?? '';
  url.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`);
  const tampered = await put({ ...upload, url: url.href }, body);
  assert.equal(tampered.status, 403);
  assert.equal((await errorOf(tampered)).code, 'bad_signature');

  const otherKey = await put({ ...upload, url: upload.url.replace('/t.txt?', '/u.txt?') }, body);
  assert.equal((await errorOf(otherKey)).code, 'bad_signature');

  const asDownload = await fetch(upload.url);
  assert.equal(asDownload.status, 403);
  assert.match((await errorOf(asDownload)).message, /not signed for GET/);
  assertNothingLeftBehind('runs/run-1/t.txt');
});

test('an expired URL is refused with 403 expired', async () => {
  const body = Buffer.from('late');
  const upload = await store.signUpload('runs/run-1/late.txt', { size: body.length, sha256: sha256(body) }, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const response = await put(upload, body);
  assert.equal(response.status, 403);
  const error = await errorOf(response);
  assert.equal(error.code, 'expired');
  assert.match(error.message, /expired at .*ask the API for a new one/);
  assertNothingLeftBehind('runs/run-1/late.txt');
});

test('a body of the wrong size or SHA-256 is rejected and leaves no file', async () => {
  const signed = Buffer.from('0123456789');
  const storageKey = 'runs/run-2/ten.bin';
  const upload = await store.signUpload(storageKey, { size: 10, sha256: sha256(signed) });
  const chunked = (bytes: Uint8Array) => new ReadableStream({ start: (c) => (c.enqueue(bytes), c.close()) });
  const cases: Array<[string, Promise<Response>, number, string, RegExp]> = [
    ['longer, Content-Length', put(upload, Buffer.from('0123456789A'), {}), 413, 'too_large', /Content-Length is 11; the signed size is 10 bytes/],
    ['shorter, Content-Length', put(upload, Buffer.from('012345678'), {}), 400, 'size_mismatch', /Content-Length is 9/],
    ['longer, chunked', put(upload, chunked(Buffer.from('0123456789A')), {}), 413, 'too_large', /larger than the signed size of 10 bytes/],
    ['shorter, chunked', put(upload, chunked(Buffer.from('012345678')), {}), 400, 'size_mismatch', /was 9 bytes; the signed size is 10 bytes/],
    ['other bytes', put(upload, Buffer.from('9876543210')), 422, 'sha256_mismatch', /the signed SHA-256 is [0-9a-f]{64}/],
  ];
  for (const [name, pending, status, code, message] of cases) {
    const response = await pending;
    assert.equal(response.status, status, name);
    const error = await errorOf(response);
    assert.equal(error.code, code, name);
    assert.match(error.message, message, name);
  }
  assertNothingLeftBehind(storageKey);
});

/**
 * `gc` without the --expose-gc flag, so RSS samples show live memory rather than garbage that has not been
 * collected yet (the client's own chunks would otherwise dominate).
 */
function forceGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

test('a 50 MiB streamed upload and download keep memory flat', async () => {
  const gc = forceGc();
  const body = generatedBody(200);
  const storageKey = 'runs/run-3/big.bin';
  const upload = await store.signUpload(storageKey, { size: body.size, sha256: body.sha256 });
  gc();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let samples = 0;
  const sampler = setInterval(() => {
    gc();
    peak = Math.max(peak, process.memoryUsage().rss);
    samples++;
  }, 50);
  try {
    // `redirect: 'error'`: otherwise Node's fetch keeps every sent chunk for a redirect replay (nodejs/undici#4058).
    const created = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: body.stream, duplex: 'half', redirect: 'error' } as RequestInit);
    assert.equal(created.status, 201, await created.text());
    const download = await fetch((await store.signDownload(storageKey)).url);
    assert.ok(download.body);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of download.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.byteLength;
    }
    assert.equal(size, body.size);
    assert.equal(hash.digest('hex'), body.sha256);
  } finally {
    clearInterval(sampler);
  }
  const growthMiB = (peak - baseline) / 1024 / 1024;
  console.log(`[blobs] 50 MiB upload + download: peak RSS growth ${growthMiB.toFixed(1)} MiB over ${samples} samples`);
  assert.ok(growthMiB < 25, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
});

/** Sends a request with the path exactly as written (fetch would normalise `%2e%2e`). */
function rawRequest(method: string, path: string, body: string): Promise<{ status: number; text: string }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('path traversal through encoded dots is rejected', async () => {
  const body = 'escape';
  const upload = await store.signUpload('runs/run-4/x.txt', { size: body.length, sha256: sha256(Buffer.from(body)) });
  const query = new URL(upload.url).search;
  for (const path of [
    '/api/blobs/runs/run-4/%2e%2e/%2e%2e/escape.txt',
    '/api/blobs/runs/run-4/%2E%2E%2F%2E%2E%2Fescape.txt',
    '/api/blobs/runs/run-4/..%2f..%2f..%2fescape.txt',
  ]) {
    const response = await rawRequest('PUT', `${path}${query}`, body);
    assert.ok([400, 403, 404].includes(response.status), `${path}: ${response.status} ${response.text}`);
  }
  const encodedSlash = await rawRequest('PUT', `/api/blobs/runs/run-4/..%2f..%2fescape.txt${query}`, body);
  assert.equal(encodedSlash.status, 400);
  const { error } = JSON.parse(encodedSlash.text) as { error: { code: string; message: string } };
  assert.equal(error.code, 'invalid_key');
  assert.match(error.message, /"\.\." path segments/);
  assert.equal(existsSync(join(dir, 'escape.txt')), false);
  assert.equal(existsSync(join(dir, 'runs', 'escape.txt')), false);
  assert.equal(existsSync(join(dir, '..', 'escape.txt')), false);
});

test('download of a missing blob is 404; blob URLs are 404 when artifacts live in S3', async () => {
  const missing = await fetch((await store.signDownload('runs/run-5/none.txt')).url);
  assert.equal(missing.status, 404);
  assert.match((await errorOf(missing)).message, /no artifact is stored at runs\/run-5\/none\.txt/);

  const s3Only = new Hono();
  s3Only.route(
    '/api/blobs',
    blobRoutesFor(() => undefined),
  );
  const response = await s3Only.request('/api/blobs/runs/run-5/none.txt?op=get');
  assert.equal(response.status, 404);
  assert.match((await errorOf(response)).message, /keeps artifacts in S3/);
});
