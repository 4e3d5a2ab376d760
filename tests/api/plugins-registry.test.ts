/**
 * Remote registries for real: a SECOND Flowyard process (`flowyard serve`, its own data folder, a loopback
 * port) serves its installed plugins at /registry; this Flowyard searches it with its own installed plugins as
 * one list, installs by name and range with the digest verified, revalidates the index with ETags (304) and
 * lets its installed plugins win. A static-file registry (the bucket layout over plain HTTP) shows the same
 * layout works without a Flowyard, and that an archive whose digest is not the index's is refused.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { archiveDigest } from '../../server/services/plugins/archive.ts';
import { clearRegistryCache, registryIndex } from '../../server/services/plugins/registry-client.ts';
import { loadConfig } from '../../server/config.ts';
import { packFolder } from '../../server/services/plugins/pack-folder.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = join(ROOT, 'tests/fixtures/plugins/hello-echo');
const NAME = 'test-fixtures/hello-echo';
const REMOTE_TOKEN = 'fy_registry_test_admin_token_0123456789';

const scratch = mkdtempSync(join(tmpdir(), 'flowyard-registry-'));
let remote: { url: string; child: ChildProcess; output: () => string };
let bucket: Server;
let bucketUrl: string;
let local: TestServer;

/** The fixture with another name, version or step type, packed. */
async function packVariant(version: string, name = NAME): Promise<Buffer> {
  const dir = mkdtempSync(join(scratch, 'variant-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const manifest = readFileSync(join(FIXTURE, 'plugin.yaml'), 'utf8')
    .replace('version: 1.0.0', `version: ${version}`)
    .replace(`name: ${NAME}`, `name: ${name}`);
  writeFileSync(join(dir, 'plugin.yaml'), manifest);
  return packFolder(dir);
}

async function startRemoteFlowyard(): Promise<typeof remote> {
  const data = join(scratch, 'remote-data');
  const port = await new Promise<number>((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve', '--no-runner', '--port', String(port), '--data', data], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: scratch, FLOWYARD_ADMIN_TOKEN: REMOTE_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  // Ready once the first admin (with FLOWYARD_ADMIN_TOKEN) exists, which serve creates after it listens.
  const ready = async () => (await fetch(`${url}/api/auth/me`, { headers: { authorization: `Bearer ${REMOTE_TOKEN}` } }).catch(() => undefined))?.ok;
  while (!(await ready())) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the registry Flowyard did not start:\n${output}`);
    await new Promise((wait) => setTimeout(wait, 200));
  }
  return { url, child, output: () => output };
}

const remoteCall = (method: string, path: string, body?: unknown, contentType = 'application/json') =>
  fetch(`${remote.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${REMOTE_TOKEN}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : body instanceof Buffer ? new Uint8Array(body) : JSON.stringify(body),
  });

/** A registry as static files: what a bucket holding the layout would answer. */
async function startBucket(folder: string): Promise<void> {
  bucket = createServer((request, response) => {
    const path = join(folder, decodeURIComponent(new URL(request.url!, 'http://x').pathname));
    try {
      const body = readFileSync(path);
      response.writeHead(200, { 'content-length': body.length }).end(body);
    } catch {
      response.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((done) => bucket.listen(0, '127.0.0.1', done));
  bucketUrl = `http://127.0.0.1:${(bucket.address() as AddressInfo).port}`;
}

function writeBucketPlugin(folder: string, name: string, version: string, archive: Buffer, listedDigest: string) {
  const dir = join(folder, 'plugins', name, version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'plugin.tar.gz'), archive);
  writeFileSync(join(dir, 'plugin.yaml'), `name: ${name}\n`);
  const indexPath = join(folder, 'index.json');
  const index = (() => {
    try {
      return JSON.parse(readFileSync(indexPath, 'utf8')) as { plugins: unknown[] };
    } catch {
      return { plugins: [] };
    }
  })();
  index.plugins.push({ name, description: `static ${name}`, status: 'experimental', versions: [{ version, digest: listedDigest, flowyard: '*' }] });
  mkdirSync(dirname(indexPath), { recursive: true });
  writeFileSync(indexPath, JSON.stringify(index));
}

before(async () => {
  remote = await startRemoteFlowyard();
  for (const version of ['1.0.0', '1.1.0', '2.0.0']) {
    const uploaded = await remoteCall('POST', '/api/plugins/upload', await packVariant(version), 'application/gzip');
    assert.equal(uploaded.status, 201, await uploaded.text());
  }
  const bucketFolder = join(scratch, 'bucket');
  const good = await packVariant('0.3.0', 'test-fixtures/static-only');
  writeBucketPlugin(bucketFolder, 'test-fixtures/static-only', '0.3.0', good, archiveDigest(good));
  const tampered = await packVariant('0.1.0', 'test-fixtures/tampered');
  writeBucketPlugin(bucketFolder, 'test-fixtures/tampered', '0.1.0', tampered, `sha256:${'ab'.repeat(32)}`);
  await startBucket(bucketFolder);
  local = await startTestServer({
    env: { FLOWYARD_PLUGIN_REGISTRIES: `${remote.url}/registry, ${bucketUrl}/`, FLOWYARD_PLUGIN_REGISTRY_TTL: '0' },
  });
});

after(async () => {
  await local?.close();
  bucket?.close();
  if (remote?.child.exitCode === null) {
    remote.child.kill('SIGTERM');
    await new Promise((done) => remote.child.once('exit', done));
  }
  rmSync(scratch, { recursive: true, force: true });
});

interface Summary {
  name: string;
  source: string;
  installed: boolean;
  status: string;
  installedVersions: string[];
  availableVersions: string[];
}
interface Search {
  plugins: Summary[];
  registries: Array<{ url: string; ok: boolean; source: string | null; error: string | null }>;
}
const search = async (query = '') => (await (await local.call('GET', `/api/plugins${query}`)).json()) as Search;

test('the registry Flowyard serves its index with an ETag and answers If-None-Match with 304', async () => {
  const first = await fetch(`${remote.url}/registry/index.json`);
  assert.equal(first.status, 200);
  const etag = first.headers.get('etag');
  assert.ok(etag);
  const index = (await first.json()) as { plugins: Array<{ name: string; versions: Array<{ version: string; digest: string }> }> };
  assert.deepEqual(
    index.plugins[0]!.versions.map((v) => v.version),
    ['2.0.0', '1.1.0', '1.0.0'],
  );
  const again = await fetch(`${remote.url}/registry/index.json`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const archive = Buffer.from(await (await fetch(`${remote.url}/registry/plugins/${NAME}/1.1.0/plugin.tar.gz`)).arrayBuffer());
  assert.equal(archiveDigest(archive), index.plugins[0]!.versions[1]!.digest, "the archive's sha256 is the index's digest");
  assert.match(await (await fetch(`${remote.url}/registry/plugins/${NAME}/1.1.0/plugin.yaml`)).text(), /version: 1\.1\.0/);
  assert.equal((await fetch(`${remote.url}/registry/plugins/${NAME}/9.9.9/plugin.tar.gz`)).status, 404);
});

test('remote registries are searched as one list; the index is revalidated with its ETag', async () => {
  const first = await search();
  assert.deepEqual(
    first.plugins.map((p) => [p.name, p.installed, p.source]),
    [
      [NAME, false, `${remote.url}/registry`],
      ['test-fixtures/static-only', false, `${bucketUrl}/`],
      ['test-fixtures/tampered', false, `${bucketUrl}/`],
    ],
  );
  assert.deepEqual(first.plugins[0]!.availableVersions, ['2.0.0', '1.1.0', '1.0.0']);
  assert.ok(
    first.registries.every((r) => r.ok),
    JSON.stringify(first.registries),
  );
  const second = await search('?stepType=step.hello_echo&q=echo');
  const fromFlowyard = second.registries.find((r) => r.url === `${remote.url}/registry`)!;
  assert.equal(fromFlowyard.source, 'revalidated', 'the TTL is 0, so the index was revalidated and the 304 kept it');
  assert.equal(second.plugins.length, 1, 'the step type is in the index');
  const shown = (await (await local.call('GET', `/api/plugins/${NAME}`)).json()) as { installed: boolean; minimalExample: string; shownVersion: string };
  assert.equal(shown.installed, false);
  assert.equal(shown.shownVersion, '2.0.0');
  assert.match(shown.minimalExample, /step\.hello_echo/);
});

test('install by name and range from the registry Flowyard, with its digest; then upgrade', async () => {
  const response = await local.call('POST', '/api/plugins/install', { name: NAME, version: '^1.0.0' });
  assert.equal(response.status, 201, await response.clone().text());
  const installed = (await response.json()) as { source: string; versions: Array<{ version: string; installed: boolean; digest: string }> };
  assert.equal(installed.source, `${remote.url}/registry`);
  const v110 = installed.versions.find((v) => v.version === '1.1.0')!;
  assert.equal(v110.installed, true, 'the newest version matching ^1.0.0');
  assert.equal(installed.versions.filter((v) => v.installed).length, 1);
  const remoteIndex = (await (await fetch(`${remote.url}/registry/index.json`)).json()) as {
    plugins: Array<{ versions: Array<{ version: string; digest: string }> }>;
  };
  assert.equal(v110.digest, remoteIndex.plugins[0]!.versions.find((v) => v.version === '1.1.0')!.digest);

  assert.equal((await local.call('POST', '/api/plugins/install', { name: NAME, version: '1.1.0' })).status, 200, 'an exact version already installed');
  const missing = await local.call('POST', '/api/plugins/install', { name: NAME, version: '^3' });
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /no version of test-fixtures\/hello-echo matches \\"\^3\\"/);

  const upgraded = await local.call('POST', `/api/plugins/${NAME}/upgrade`, {});
  assert.equal(upgraded.status, 200, await upgraded.clone().text());
  const after = (await upgraded.json()) as { shownVersion: string; versions: Array<{ version: string; installed: boolean }> };
  assert.equal(after.shownVersion, '2.0.0');
  const upToDate = await local.call('POST', `/api/plugins/${NAME}/upgrade`, {});
  assert.equal(upToDate.status, 409);
  assert.match(await upToDate.text(), /newer than 2\.0\.0/);
});

test('local wins: an installed plugin is listed with its local status, not the registry one', async () => {
  const marked = await remoteCall('PUT', `/api/plugins/${NAME}/status`, { status: 'verified', reason: 'the remote owner trusts it' });
  assert.equal(marked.status, 200);
  const found = (await search('?q=hello-echo')).plugins;
  assert.equal(found.length, 1);
  assert.equal(found[0]!.source, 'local');
  assert.equal(found[0]!.installed, true);
  assert.equal(found[0]!.status, 'experimental', 'the status here is set here, not by the remote registry');
  assert.deepEqual(found[0]!.installedVersions, ['2.0.0', '1.1.0']);
  assert.equal((await search('?status=verified')).plugins.length, 0);
});

test('a static-file registry works; an archive whose digest is not the index one is refused', async () => {
  const ok = await local.call('POST', '/api/plugins/install', { name: 'test-fixtures/static-only', version: '0.3.0' });
  assert.equal(ok.status, 201, await ok.clone().text());
  const refused = await local.call('POST', '/api/plugins/install', { name: 'test-fixtures/tampered', version: '*' });
  assert.equal(refused.status, 422);
  const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'digest_mismatch');
  assert.match(error.message, /nothing was installed/);
  assert.equal((await local.call('GET', '/api/plugins/test-fixtures/tampered')).status, 422, 'an unverified archive is not shown either');
  assert.equal((await search('?q=tampered')).plugins[0]!.installed, false);
});

test('this Flowyard serves what it installed as a registry too', async () => {
  const index = (await (await fetch(`${local.url}/registry/index.json`)).json()) as { plugins: Array<{ name: string; versions: Array<{ version: string }> }> };
  assert.deepEqual(
    index.plugins.map((p) => [p.name, p.versions.map((v) => v.version)]),
    [
      [NAME, ['2.0.0', '1.1.0']],
      ['test-fixtures/static-only', ['0.3.0']],
    ],
  );
});

test('within the TTL an index comes from the cache; after it, a 304 revalidates it; bad registry settings stop start-up', async () => {
  const base = `${remote.url}/registry/`;
  clearRegistryCache();
  const now = Date.now();
  assert.equal((await registryIndex(base, 60_000, now)).source, 'network');
  assert.equal((await registryIndex(base, 60_000, now + 1_000)).source, 'cache');
  assert.equal((await registryIndex(base, 60_000, now + 61_000)).source, 'revalidated');
  assert.throws(
    () => loadConfig({ FLOWYARD_PLUGIN_REGISTRIES: 'http://127.0.0.1:1/registry, ftp://example.invalid/' }),
    /FLOWYARD_PLUGIN_REGISTRIES must be an http:\/\/ or https:\/\/ URL/,
  );
  assert.throws(() => loadConfig({ FLOWYARD_PLUGIN_REGISTRY_TTL: 'soon' }), /FLOWYARD_PLUGIN_REGISTRY_TTL must be a whole number of seconds/);
  assert.deepEqual(loadConfig({ FLOWYARD_PLUGIN_REGISTRIES: 'http://a.example/r/, https://b.example' }).server.pluginRegistries, [
    'http://a.example/r/',
    'https://b.example',
  ]);
});

test('deploy providers are in the served index; a search by provider name finds a remote plugin, and showing it lists its settings schema', async () => {
  const uploaded = await remoteCall('POST', '/api/plugins/upload', await packFolder(join(ROOT, 'examples/plugins/deploy-digitalocean')), 'application/gzip');
  assert.equal(uploaded.status, 201, await uploaded.clone().text());
  const index = (await (await fetch(`${remote.url}/registry/index.json`)).json()) as { plugins: Array<{ name: string; deployProviders?: string[] }> };
  assert.deepEqual(index.plugins.find((p) => p.name === 'flowyard/digitalocean')!.deployProviders, ['digitalocean']);
  clearRegistryCache(); // the test before cached the index as fetched a minute from now

  const byProvider = await search('?deployProvider=digitalocean');
  assert.deepEqual(
    byProvider.plugins.map((p) => [p.name, p.installed, p.source]),
    [['flowyard/digitalocean', false, `${remote.url}/registry`]],
  );
  assert.equal((await search('?deployProvider=aws_ecs')).plugins.length, 0);
  assert.deepEqual(
    (await search('?q=digitalocean')).plugins.map((p) => p.name),
    ['flowyard/digitalocean'],
  );
  const shown = (await (await local.call('GET', '/api/plugins/flowyard/digitalocean')).json()) as {
    installed: boolean;
    deployProviders: Array<{ name: string; description: string; settings: { properties: Record<string, unknown>; required: string[] } }>;
  };
  assert.equal(shown.installed, false);
  assert.deepEqual(
    shown.deployProviders.map((p) => p.name),
    ['digitalocean'],
  );
  assert.match(shown.deployProviders[0]!.description, /App Platform/);
  assert.deepEqual(shown.deployProviders[0]!.settings.required, ['token_secret']);
  assert.ok(shown.deployProviders[0]!.settings.properties.app_name);
});
