import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, test } from 'node:test';
import { openDatabase } from '../../db/client.ts';
import { createLocalStore } from '../../server/services/artifacts/index.ts';

const REPO = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'flowyard-data-files-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;
const octal = (value: number) => `0${value.toString(8)}`;

/** Every folder and file under `root` with its permission bits, root included. */
function modesUnder(root: string): Map<string, string> {
  const found = new Map<string, string>([['.', octal(mode(root))]]);
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      found.set(relative(root, path), octal(mode(path)));
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(root);
  return found;
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}

test('flowyard serve on a fresh data folder keeps it 0700 and every file in it 0600, even with umask 000', async () => {
  const dataDir = join(scratch, 'data');
  const port = await freePort();
  const adminToken = `fy_data_files_${randomBytes(12).toString('hex')}`;
  // umask 000: a file created without an explicit mode would come out world-readable and fail the test.
  const child = spawn(
    'sh',
    ['-c', `umask 000 && exec node --import tsx server/cli/main.ts serve --port ${port} --host 127.0.0.1 --data '${dataDir}' --no-runner`],
    {
      cwd: REPO,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, FLOWYARD_ADMIN_TOKEN: adminToken, FLOWYARD_UI_DIR: join(scratch, 'no-ui') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 30_000;
    // The first admin (and its token) exists once serve prints that it listens.
    while (!/listening on/.test(output) || !(await fetch(`${url}/healthz`).catch(() => undefined))?.ok) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `serve did not start:\n${output}`);
      await new Promise((done) => setTimeout(done, 200));
    }
    const auth = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const yaml = 'name: at-rest\npipelines:\n  build:\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n';
    const created = await fetch(`${url}/api/workflows`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'at-rest', yaml }) });
    assert.equal(created.status, 201, await created.clone().text());

    // An artifact through the server's own blob endpoint, signed with the server's key.
    const signingKey = `artifacts:${readFileSync(join(dataDir, 'secret.key'), 'utf8').trim()}`;
    const bytes = new TextEncoder().encode('compiled output');
    const signer = createLocalStore({ dir: join(scratch, 'unused'), publicUrl: url, signingKey });
    const signed = await signer.signUpload('runs/run-1/dist/app.tar', { size: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') });
    const put = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: bytes });
    assert.equal(put.status, 201, await put.clone().text());

    const modes = modesUnder(dataDir);
    for (const expected of ['flowyard.db', 'flowyard.db-wal', 'flowyard.db-shm', 'secret.key', 'artifacts/runs/run-1/dist/app.tar']) {
      assert.ok(modes.has(expected), `${expected} is missing; found ${[...modes.keys()].join(', ')}`);
    }
    const wrong = [...modes].filter(([path, bits]) => bits !== (statSync(join(dataDir, path)).isDirectory() ? '0700' : '0600'));
    assert.deepEqual(wrong, [], `folders must be 0700 and files 0600: ${JSON.stringify(Object.fromEntries(modes), null, 1)}`);
  } finally {
    await stopServer(child);
  }
});

test('an existing world-readable database and its WAL files are made 0600 when opened', async () => {
  const folder = join(scratch, 'old-install');
  mkdirSync(folder, { mode: 0o755 });
  writeFileSync(join(folder, 'notes.txt'), 'the operator keeps other things here');
  const path = join(folder, 'flowyard.db');
  closeSync(openSync(path, 'w', 0o644));
  const handle = await openDatabase(`file:${path}`);
  await handle.client.execute('create table t (x integer)');
  try {
    assert.equal(octal(mode(path)), '0600');
    assert.equal(octal(mode(`${path}-wal`)), '0600');
    assert.equal(octal(mode(`${path}-shm`)), '0600');
    assert.equal(octal(mode(folder)), '0755', 'a folder holding other files is not changed');
  } finally {
    handle.close();
  }
});

test('the local artifact store creates folders 0700 and files 0600', async () => {
  const dir = join(scratch, 'store');
  const store = createLocalStore({ dir, publicUrl: 'http://127.0.0.1:1', signingKey: 'k' });
  await store.check();
  const bytes = new TextEncoder().encode('abc');
  await store.writeVerified('runs/r1/a/b/c.tar', new Blob([bytes]).stream(), { size: 3, sha256: createHash('sha256').update(bytes).digest('hex') });
  const wrong = [...modesUnder(dir)].filter(([path, bits]) => bits !== (statSync(join(dir, path)).isDirectory() ? '0700' : '0600'));
  assert.deepEqual(wrong, []);
});
