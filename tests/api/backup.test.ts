/**
 * `flowyard backup` and `flowyard restore` as real processes against a real server's data folder: a backup
 * taken while the server serves and writes restores into a new data folder, where a server sees the same
 * workflows, runs, logs and artifacts; restore refuses a live server's folder and an existing database;
 * a corrupt or truncated backup gets a clear error naming the file; every file written is mode 0600.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { createApp } from '../../server/api/app.ts';
import { buildDeps } from '../../server/cli/deps.ts';
import { openDatabase } from '../../db/client.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { protocolRunner } from '../helpers/protocol-runner.ts';
import { publishWorkflow, startRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { TarWriter } from '../../server/services/backup-archive.ts';
import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

const ROOT = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'flowyard-backup-test-'));
let server: TestServer;
let runId: string;
let jobId: string;
let runner: Awaited<ReturnType<typeof protocolRunner>>;
const artifact = Buffer.from('the build output\n'.repeat(1000));

function flowyard(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

before(async () => {
  server = await startTestServer();
  const workflowId = await publishWorkflow(
    server,
    'kept',
    'name: kept\npipelines:\n  main:\n    runs_on: [backup]\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n',
  );
  runId = (await startRun(server, workflowId)).id;
  runner = await protocolRunner(server, 'backup-runner', ['backup']);
  const job = await runner.claim();
  assert.ok(job);
  jobId = job.jobId;
  await runner.log(jobId, 0, 0, 'first line\n');
  const sha256 = createHash('sha256').update(artifact).digest('hex');
  const signed = (await (await runner.call('POST', `/jobs/${jobId}/artifacts/upload-url`, { key: 'dist.txt', size: artifact.length, sha256 })).json()) as {
    url: string;
    headers: Record<string, string>;
  };
  const put = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: artifact });
  assert.ok(put.ok, `upload: ${put.status} ${await put.text()}`);
  assert.equal((await runner.call('POST', `/jobs/${jobId}/artifacts/commit`, { key: 'dist.txt', size: artifact.length, sha256 })).status, 204);
});
after(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

test('a backup taken while the server writes restores into a new data folder with the same workflows, runs and artifacts', async () => {
  // The server keeps writing log chunks the whole time the backup runs.
  let writing = true;
  let seq = 1;
  const writer = (async () => {
    while (writing) await runner.log(jobId, 0, seq++, `line ${seq}\n`);
  })();
  const file = join(work, 'flowyard-backup.tar.gz');
  const backup = await flowyard(['backup', file, '--data', server.database.dir]);
  writing = false;
  await writer;
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, /wrote .*flowyard-backup\.tar\.gz \(database .*, 1 artifact file\(s\)/);
  assert.equal(statSync(file).mode & 0o777, 0o600, 'the backup holds the secret key: owner only');
  assert.ok(seq > 2, 'logs were written during the backup');
  const entries = gunzipSync(readFileSync(file)).subarray(0, 100).toString('utf8');
  assert.ok(entries.startsWith('flowyard-backup.json'), 'a plain tar.gz with the manifest first');

  const restoredDir = join(work, 'restored');
  const restore = await flowyard(['restore', file, '--data', restoredDir]);
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stdout, /restored the database to .*flowyard\.db and 1 artifact file\(s\)/);
  for (const name of ['flowyard.db', 'secret.key']) assert.equal(statSync(join(restoredDir, name)).mode & 0o777, 0o600, name);
  assert.deepEqual(readFileSync(join(restoredDir, 'secret.key')), readFileSync(join(server.database.dir, 'secret.key')));

  const handle = await openDatabase(`file:${join(restoredDir, 'flowyard.db')}`);
  try {
    const deps = await buildDeps({ db: handle.db, dataDir: restoredDir, publicUrl: 'http://127.0.0.1:9', adminToken: TEST_ADMIN_TOKEN, env: {} });
    const app = createApp(deps);
    const get = (path: string) => app.request(path, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    const workflows = (await (await get('/api/workflows')).json()) as Array<{ name: string }> | { workflows: Array<{ name: string }> };
    const names = (Array.isArray(workflows) ? workflows : workflows.workflows).map((w) => w.name);
    assert.ok(names.includes('kept'), JSON.stringify(workflows));
    const run = (await (await get(`/api/runs/${runId}`)).json()) as { state: string; number: number };
    assert.equal(run.state, 'running');
    const log = await (await get(`/api/runs/${runId}/logs?step=say`)).text();
    assert.ok(log.startsWith('first line\n'), log.slice(0, 100));
    const download = await get(`/api/runs/${runId}/artifacts/download?key=dist.txt`);
    const bytes =
      download.status >= 300 && download.status < 400
        ? Buffer.from(
            await (
              await app.request(
                new URL(download.headers.get('location')!, 'http://127.0.0.1:9').pathname +
                  new URL(download.headers.get('location')!, 'http://127.0.0.1:9').search,
              )
            ).arrayBuffer(),
          )
        : Buffer.from(await download.arrayBuffer());
    assert.deepEqual(bytes, artifact, `artifact download answered ${download.status}`);
  } finally {
    handle.close();
  }

  const again = await flowyard(['restore', file, '--data', restoredDir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already holds a database: restore into a new --data folder, or pass --force/);
  const forced = await flowyard(['restore', file, '--data', restoredDir, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
});

test('restore refuses the data folder of a running server, even with --force', async () => {
  const live = join(work, 'live');
  const backupFile = join(work, 'for-live.tar.gz');
  assert.equal((await flowyard(['backup', backupFile, '--data', server.database.dir])).code, 0);
  rmSync(live, { recursive: true, force: true });
  const first = await flowyard(['restore', backupFile, '--data', live]);
  assert.equal(first.code, 0, first.stderr);
  writeFileSync(join(live, 'flowyard.pid'), `${process.pid}\n`); // this test process stands in for a live serve
  const refused = await flowyard(['restore', backupFile, '--data', live, '--force']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`a Flowyard server \\(pid ${process.pid}\\) is running on .*live: stop it before restoring`));
  writeFileSync(join(live, 'flowyard.pid'), '999999999\n'); // a stale pid file: that process is gone
  assert.equal((await flowyard(['restore', backupFile, '--data', live, '--force'])).code, 0);
});

test('a corrupt, truncated or foreign backup gets a clear error naming the file, and nothing is restored', async () => {
  const good = join(work, 'good.tar.gz');
  assert.equal((await flowyard(['backup', good, '--data', server.database.dir])).code, 0);
  const bytes = readFileSync(good);
  const tar = gunzipSync(bytes);
  const flipped = Buffer.from(tar);
  flipped[tar.length - 2048] = flipped[tar.length - 2048]! ^ 0xff; // inside the last file's data
  const cases: Array<[string, Buffer, RegExp]> = [
    ['not-gzip.tar.gz', Buffer.from('hello, not a backup'), /is not a usable Flowyard backup: it is not gzip data or it is damaged/],
    ['truncated.tar.gz', gzipSync(tar.subarray(0, Math.floor(tar.length / 2))), /is not a usable Flowyard backup: .*(ends in the middle|lacks)/],
    ['flipped.tar.gz', gzipSync(flipped), /is not a usable Flowyard backup: .* does not match its recorded size and SHA-256/],
    ['foreign.tar.gz', gzipSync(Buffer.alloc(4096)), /is not a usable Flowyard backup: it is empty/],
  ];
  for (const [name, content, message] of cases) {
    const file = join(work, name);
    writeFileSync(file, content);
    const target = join(work, `target-${name}`);
    const result = await flowyard(['restore', file, '--data', target]);
    assert.equal(result.code, 1, `${name}: ${result.stdout}`);
    assert.match(result.stderr, message, name);
    assert.ok(result.stderr.includes(file), `${name}: the error names the file`);
    assert.ok(!/\n\s+at /.test(result.stderr), `${name}: no stack trace`);
    assert.ok(!existsSync(join(target, 'flowyard.db')) || statSync(join(target, 'flowyard.db')).size === 0, `${name}: no database restored`);
  }
  const missing = await flowyard(['restore', join(work, 'no-such.tar.gz'), '--data', join(work, 'target-missing')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no backup file at .*no-such\.tar\.gz/);
  const badTarget = await flowyard(['backup', join(work, 'no-such-folder', 'x.tar.gz'), '--data', server.database.dir]);
  assert.equal(badTarget.code, 1);
  assert.match(badTarget.stderr, /cannot write the backup .*x\.tar\.gz: the folder .*no-such-folder does not exist/);
  const noDatabase = await flowyard(['backup', join(work, 'y.tar.gz'), '--data', join(work, 'empty-data')]);
  assert.equal(noDatabase.code, 1);
  assert.match(noDatabase.stderr, /no database at .*empty-data.*flowyard\.db/);
});

/** A backup file whose manifest says what a test wants, with entries that match it. */
async function craftedBackup(file: string, files: Array<{ path: string; content: Buffer }>) {
  const entries = files.map((f, i) => ({
    entry: `files/${i}`,
    path: f.path,
    size: f.content.length,
    sha256: createHash('sha256').update(f.content).digest('hex'),
  }));
  const manifest = Buffer.from(JSON.stringify({ format: 'flowyard-backup', version: 1, createdAt: new Date().toISOString(), files: entries, notIncluded: [] }));
  const gzip = createGzip();
  const written = pipeline(gzip, createWriteStream(file));
  const tar = new TarWriter(gzip);
  const once = (b: Buffer) =>
    (async function* () {
      yield b;
    })();
  await tar.add('flowyard-backup.json', manifest.length, once(manifest));
  for (const [i, f] of files.entries()) await tar.add(`files/${i}`, f.content.length, once(f.content));
  await tar.finish();
  await written;
}

test('a backup whose manifest names paths outside the data folder is refused before anything is written', async () => {
  const database = readFileSync(join(server.database.dir, 'flowyard.db'));
  for (const evil of ['artifacts/../../escaped.txt', '../escaped.txt', '/tmp/escaped.txt', 'artifacts/a/../../../escaped.txt', '.bashrc']) {
    const file = join(work, 'evil.tar.gz');
    await craftedBackup(file, [
      { path: 'database', content: database },
      { path: evil, content: Buffer.from('owned\n') },
    ]);
    const target = join(work, 'evil-target', 'data');
    const result = await flowyard(['restore', file, '--data', target]);
    assert.equal(result.code, 1, `${evil}: ${result.stdout}`);
    assert.match(result.stderr, /is not a usable Flowyard backup: its manifest lists a file it may not restore/, evil);
    assert.ok(!existsSync(join(work, 'escaped.txt')) && !existsSync(join(work, 'evil-target', 'escaped.txt')), `${evil}: nothing written outside`);
    assert.ok(!existsSync(join(target, 'flowyard.db')) || statSync(join(target, 'flowyard.db')).size === 0, `${evil}: no database restored`);
  }
});
