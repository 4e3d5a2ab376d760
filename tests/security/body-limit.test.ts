/**
 * Attack: a huge request body sent to any route (signed in or not) is buffered and parsed whole, so one
 * request can take the server's memory. Defence: a streaming 1 MiB limit in front of every route.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { parseMaxBodyBytes } from '../../server/api/middleware/body-limit.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const MiB = 1024 * 1024;
const ATTACK_BYTES = 50 * MiB;

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

interface Sent {
  status: number;
  body: string;
  ms: number;
}

/**
 * POSTs `totalBytes` of one long JSON string over a raw socket, written 1 MiB at a time from a single reused
 * buffer so the client itself holds no more than that; stops writing as soon as the server answers. A raw
 * socket, because HTTP clients report an upload the server cut short as an error and drop the answer.
 */
function sendHugeJson(path: string, totalBytes: number, options: { declareLength: boolean }): Promise<Sent> {
  const started = Date.now();
  const head = Buffer.from('{"email":"a@example.com","password":"');
  const tail = Buffer.from('"}');
  const filler = Buffer.alloc(MiB, 'x');
  const framing = options.declareLength ? `Content-Length: ${totalBytes}` : 'Transfer-Encoding: chunked';
  const frame = (piece: Buffer) => (options.declareLength ? [piece] : [Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let received = '';
    let answered = false;
    const finish = () => {
      const match = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(received);
      if (!match) return reject(new Error(`no HTTP answer; got ${JSON.stringify(received.slice(0, 200))}`));
      resolve({ status: Number(match[1]), body: match[2]!, ms: Date.now() - started });
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      // The first answer is all we wait for: a JSON error body ends with "}}".
      if (!answered && /\r\n\r\n[^]*\}\}$/.test(received)) {
        answered = true;
        socket.destroy();
        finish();
      }
    });
    // The server closes the connection after answering early; that is the point, not a failure.
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!answered) finish();
    });
    socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`);
    let written = 0;
    const writeMore = () => {
      while (!answered && !socket.destroyed) {
        const left = totalBytes - written;
        if (left <= 0) return void (options.declareLength ? undefined : socket.write('0\r\n\r\n'));
        const piece = written === 0 ? head : left <= tail.length ? tail : filler.subarray(0, Math.min(MiB, left - tail.length));
        written += piece.length;
        let drained = true;
        for (const part of frame(piece)) drained = socket.write(part) && drained;
        if (!drained) return void socket.once('drain', writeMore);
      }
    };
    writeMore();
  });
}

async function assertRefusedWithFlatMemory(declareLength: boolean) {
  global.gc?.();
  const before = process.memoryUsage().rss;
  const sent = await sendHugeJson('/api/auth/login', ATTACK_BYTES, { declareLength });
  const grownMiB = (process.memoryUsage().rss - before) / MiB;
  assert.equal(sent.status, 413, sent.body);
  const { error } = JSON.parse(sent.body) as { error: { code: string; message: string } };
  assert.equal(error.code, 'too_large');
  assert.match(error.message, /limit/);
  assert.ok(sent.ms < 5000, `answered in ${sent.ms} ms`);
  assert.ok(grownMiB < 64, `the server grew by ${grownMiB.toFixed(0)} MiB for a ${ATTACK_BYTES / MiB} MiB body`);
}

test('50 MB with a Content-Length to /api/auth/login: 413 before reading it, memory flat', async () => {
  await assertRefusedWithFlatMemory(true);
});

test('50 MB chunked (no Content-Length) to /api/auth/login: 413 once 1 MiB has streamed in, memory flat', async () => {
  await assertRefusedWithFlatMemory(false);
});

test('the limit covers signed-in routes, webhooks and the runner protocol; a normal body still works', async () => {
  for (const path of ['/api/workflows', '/hooks/anything', '/api/runner/v1/register']) {
    const sent = await sendHugeJson(path, 2 * MiB, { declareLength: false });
    assert.equal(sent.status, 413, `${path}: ${sent.body}`);
  }
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'nobody@example.com', password: 'x'.repeat(900) }),
  });
  assert.equal(login.status, 401);
  const justUnder = await server.call('POST', '/api/try-activate', { yaml: `# ${'y'.repeat(MiB - 100)}\n` });
  assert.notEqual(justUnder.status, 413);
});

test('FLOWYARD_MAX_BODY_BYTES changes the limit; artifact uploads are not held to it', async () => {
  const small = await startTestServer({ env: { FLOWYARD_MAX_BODY_BYTES: '2048' } });
  try {
    const tooBig = await fetch(`${small.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'a@example.com', password: 'p'.repeat(3000) }),
    });
    assert.equal(tooBig.status, 413);
    assert.match(((await tooBig.json()) as { error: { message: string } }).error.message, /2 KiB/);
    // A blob PUT over the limit reaches the blob route, which answers about its signature, not the size.
    const blob = await fetch(`${small.url}/api/blobs/runs/x/y.tar`, { method: 'PUT', body: new Uint8Array(4096) });
    assert.notEqual(blob.status, 413);
  } finally {
    await small.close();
  }
  assert.throws(() => parseMaxBodyBytes('lots'), /FLOWYARD_MAX_BODY_BYTES: "lots" is not a positive whole number/);
  assert.equal(parseMaxBodyBytes(undefined), MiB);
});
