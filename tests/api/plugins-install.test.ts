/**
 * Plugin packages through the real API and database: a fixture folder packed deterministically and uploaded,
 * manifests checked with file/line/column/field errors, hostile archives refused, uninstall refused while a
 * published workflow version pins the plugin, and installs kept to admins.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import * as tar from 'tar-stream';
import { eq } from 'drizzle-orm';
import { workflows, workflowVersions } from '../../db/schema.ts';
import { createApiToken, createUser, FIRST_ADMIN_EMAIL } from '../../server/services/auth.ts';
import { archiveDigest } from '../../server/services/plugins/archive.ts';
import { installPackage } from '../../server/services/plugins/installed.ts';
import { readPackage } from '../../server/services/plugins/package.ts';
import { packFolder } from '../../server/services/plugins/pack-folder.ts';
import { testApi, type TestApi } from '../helpers/api.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/plugins/hello-echo');
const NAME = 'test-fixtures/hello-echo';

let api: TestApi;
let editorToken: string;
const scratch = mkdtempSync(join(tmpdir(), 'flowyard-plugins-'));

before(async () => {
  api = await testApi();
  const editor = await createUser(api.database.db, { email: 'editor@example.com', name: 'editor', role: 'editor' });
  editorToken = (await createApiToken(api.database.db, editor.id, 'test')).token;
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  api.database.cleanup();
});

const upload = (archive: Buffer, token?: string) =>
  api.app.request('/api/plugins/upload', {
    method: 'POST',
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${token ?? 'fy_test_admin_token_0123456789abcdef'}` },
    body: new Uint8Array(archive),
  });
const asEditor = (method: string, path: string, body?: unknown) =>
  api.app.request(path, {
    method,
    headers: { authorization: `Bearer ${editorToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** A copy of the fixture with files replaced, packed. */
async function variant(files: Record<string, string | null>): Promise<Buffer> {
  const dir = mkdtempSync(join(scratch, 'variant-'));
  cpSync(FIXTURE, dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    if (content === null) rmSync(join(dir, path));
    else writeFileSync(join(dir, path), content);
  }
  return packFolder(dir);
}

/** A tar.gz built by hand, so it can hold what packFolder never writes. */
async function rawArchive(entries: Array<{ name: string; type?: 'file' | 'symlink'; linkname?: string; content?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise((resolve) => pack.on('end', resolve));
  for (const entry of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: entry.name, type: entry.type ?? 'file', linkname: entry.linkname }, entry.content ?? '', (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

const errorOf = async (response: Response) =>
  ((await response.json()) as { error: { code: string; message: string; problems?: Array<Record<string, unknown>> } }).error;

test('packing a folder is deterministic and the archive reads back with its manifest, example and digest', async () => {
  const first = await packFolder(FIXTURE);
  const second = await packFolder(FIXTURE);
  assert.ok(first.equals(second), 'the same folder packs to the same bytes');
  const pkg = await readPackage(first);
  assert.equal(pkg.manifest.name, NAME);
  assert.equal(pkg.digest, archiveDigest(first));
  assert.match(pkg.digest, /^sha256:[0-9a-f]{64}$/);
  assert.match(pkg.minimalExample, /type: step\.hello_echo/);
});

test('an admin uploads a plugin; search and show list it with who installed it', async () => {
  const archive = await packFolder(FIXTURE);
  const response = await upload(archive);
  assert.equal(response.status, 201, await response.clone().text());
  const details = (await response.json()) as {
    name: string;
    status: string;
    source: string;
    steps: Array<{ type: string; config: { properties: Record<string, unknown> }; runtime: { kind: string } }>;
    minimalExample: string;
    versions: Array<{ version: string; digest: string; installedByEmail: string | null; installedAt: string | null }>;
  };
  assert.equal(details.name, NAME);
  assert.equal(details.status, 'experimental');
  assert.equal(details.source, 'local');
  assert.deepEqual(
    details.steps.map((s) => s.type),
    ['step.hello_echo'],
  );
  assert.ok(details.steps[0]!.config.properties.greeting);
  assert.match(details.minimalExample, /hello-echo-minimal/);
  assert.equal(details.versions[0]!.digest, archiveDigest(archive));
  assert.equal(details.versions[0]!.installedByEmail, FIRST_ADMIN_EMAIL, 'who installed it is kept');
  assert.ok(details.versions[0]!.installedAt, 'when it was installed is kept');

  assert.equal((await upload(archive)).status, 200, 'the same bytes again are a no-op');

  const search = (await (await asEditor('GET', '/api/plugins?q=greeting')).json()) as { plugins: Array<{ name: string; installed: boolean }> };
  assert.deepEqual(
    search.plugins.map((p) => p.name),
    [NAME],
  );
  const byStep = (await (await asEditor('GET', '/api/plugins?stepType=step.hello_echo&status=experimental')).json()) as { plugins: unknown[] };
  assert.equal(byStep.plugins.length, 1);
  const none = (await (await asEditor('GET', '/api/plugins?status=verified')).json()) as { plugins: unknown[] };
  assert.equal(none.plugins.length, 0);
  assert.equal((await asEditor('GET', `/api/plugins/${NAME}`)).status, 200, 'editors may read a plugin');
});

test('a plugin with a deploy provider: show lists the provider with its settings schema; search finds it by provider name', async () => {
  const response = await upload(await packFolder(join(import.meta.dirname, '../../examples/plugins/deploy-aws-ecs')));
  assert.equal(response.status, 201, await response.clone().text());
  const details = (await response.json()) as {
    steps: unknown[];
    deployProviders: Array<{ name: string; description: string; settings: { properties: Record<string, unknown> }; runtime: { kind: string } }>;
  };
  assert.deepEqual(details.steps, []);
  assert.deepEqual(
    details.deployProviders.map((p) => [p.name, p.runtime.kind]),
    [['aws_ecs', 'remote']],
  );
  assert.ok(details.deployProviders[0]!.settings.properties.cluster, 'the settings schema as plugin.yaml writes it');
  assert.match(details.deployProviders[0]!.description, /ECS/);

  const search = async (query: string) =>
    ((await (await asEditor('GET', `/api/plugins${query}`)).json()) as { plugins: Array<{ name: string; deployProviders: string[] }> }).plugins;
  assert.deepEqual(
    (await search('?deployProvider=aws_ecs')).map((p) => [p.name, p.deployProviders]),
    [['flowyard/aws-ecs', ['aws_ecs']]],
  );
  assert.deepEqual(
    (await search('?q=aws_ecs')).map((p) => p.name),
    ['flowyard/aws-ecs'],
    'the text search covers provider names',
  );
  assert.deepEqual(await search('?deployProvider=gcp_cloud_run'), []);
  assert.deepEqual(
    (await search('?stepType=step.hello_echo')).map((p) => p.name),
    [NAME],
  );
});

test('another archive under an installed version is refused', async () => {
  const changed = await variant({ 'README.md': 'changed\n' });
  const response = await upload(changed);
  assert.equal(response.status, 409);
  assert.match((await errorOf(response)).message, /already installed with digest/);
});

test('a bad manifest is refused with file, line, column and field', async () => {
  const manifest = [
    'name: test-fixtures/broken',
    'version: 1.0',
    'description: broken',
    'license: MIT',
    'steps:',
    '  - type: step.broken',
    '    description: d',
    '    colour: red',
    '    config: { type: object }',
    '    runtime: { kind: container }',
    '',
  ].join('\n');
  const response = await upload(await variant({ 'plugin.yaml': manifest }));
  assert.equal(response.status, 422);
  const error = await errorOf(response);
  assert.equal(error.code, 'invalid_plugin');
  assert.deepEqual(error.problems, [
    { file: 'plugin.yaml', line: 2, column: 10, field: 'version', message: 'Invalid input: expected string, received number' },
    { file: 'plugin.yaml', line: 8, column: 5, field: 'steps[0].colour', message: 'unknown field "colour"' },
    {
      file: 'plugin.yaml',
      line: 10,
      column: 5,
      field: 'steps[0].runtime.image',
      message: 'required field is missing (Invalid input: expected string, received undefined)',
    },
  ]);
  assert.match(error.message, /plugin\.yaml:8:5: steps\[0\]\.colour: unknown field "colour"/);
});

test('a YAML syntax error and a missing minimal example are named', async () => {
  const syntax = await errorOf(await upload(await variant({ 'plugin.yaml': 'name: [unclosed\n' })));
  assert.equal(syntax.code, 'invalid_plugin');
  assert.equal(syntax.problems![0]!.file, 'plugin.yaml');
  assert.ok(Number(syntax.problems![0]!.line) >= 1);
  const noExample = await errorOf(await upload(await variant({ 'examples/minimal/config.yaml': null })));
  assert.match(noExample.message, /examples\/minimal\/config\.yaml:1:1: missing/);
  const noManifest = await errorOf(await upload(await rawArchive([{ name: 'README.md', content: 'x' }])));
  assert.match(noManifest.message, /plugin\.yaml:1:1: missing/);
});

test('hostile archives are refused: path traversal, absolute paths, links, bombs, oversize, not gzip', async () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['traversal', await rawArchive([{ name: '../../etc/cron.d/evil', content: 'x' }]), /climbs out of the archive/],
    ['nested traversal', await rawArchive([{ name: 'examples/../../evil', content: 'x' }]), /climbs out of the archive/],
    ['absolute', await rawArchive([{ name: '/etc/passwd', content: 'x' }]), /is absolute/],
    ['symlink', await rawArchive([{ name: 'plugin.yaml', type: 'symlink', linkname: '/etc/passwd' }]), /is a symlink/],
    [
      'duplicate',
      await rawArchive([
        { name: 'a', content: '1' },
        { name: './a', content: '2' },
      ]),
      /appears twice/,
    ],
    ['bomb', await rawArchive([{ name: 'zeros', content: '\0'.repeat(40 * 1024 * 1024) }]), /expands to more than the 32 MiB limit/],
    ['not gzip', Buffer.from('plain text, not an archive'), /not a gzip file/],
  ];
  for (const [what, archive, expected] of cases) {
    const response = await upload(archive);
    assert.equal(response.status, 422, `${what}: ${await response.clone().text()}`);
    const error = await errorOf(response);
    assert.equal(error.code, 'invalid_archive', what);
    assert.match(error.message, expected, what);
  }
  const huge = randomBytes(9 * 1024 * 1024);
  const tooLarge = await upload(huge);
  assert.equal(tooLarge.status, 413);
  await assert.rejects(readPackage(huge), /larger than the 8 MiB limit/);
});

test("an archive whose digest is not the registry's is not installed", async () => {
  const pkg = await readPackage(await variant({ 'plugin.yaml': (await readPackage(await packFolder(FIXTURE))).manifestText.replace('1.0.0', '1.0.1') }));
  await assert.rejects(
    installPackage(api.database.db, pkg, { registry: 'http://127.0.0.1:9/registry', userId: null, expectedDigest: `sha256:${'0'.repeat(64)}` }),
    /is not the sha256:0+ the registry lists; nothing was installed/,
  );
  const show = (await (await api.call('GET', `/api/plugins/${NAME}`)).json()) as { versions: Array<{ version: string }> };
  assert.ok(!show.versions.some((v) => v.version === '1.0.1'));
});

test('editors and viewers may not install, upload, upgrade, uninstall or set a status', async () => {
  assert.equal((await upload(await packFolder(FIXTURE), editorToken)).status, 403);
  assert.equal((await asEditor('POST', '/api/plugins/install', { name: NAME, version: '^1' })).status, 403);
  assert.equal((await asEditor('POST', `/api/plugins/${NAME}/upgrade`, {})).status, 403);
  assert.equal((await asEditor('DELETE', `/api/plugins/${NAME}`)).status, 403);
  assert.equal((await asEditor('PUT', `/api/plugins/${NAME}/status`, { status: 'verified' })).status, 403);
});

test('status is set by an admin and recorded; deprecated only by hand', async () => {
  const response = await api.call('PUT', `/api/plugins/${NAME}/status`, { status: 'deprecated', reason: 'replaced by acme/echo' });
  assert.equal(response.status, 200);
  const details = (await response.json()) as {
    status: string;
    statusChanges: Array<{ fromStatus: string; toStatus: string; reason: string; changedByEmail: string }>;
  };
  assert.equal(details.status, 'deprecated');
  assert.deepEqual(
    details.statusChanges.map((c) => [c.fromStatus, c.toStatus, c.reason]),
    [['experimental', 'deprecated', 'replaced by acme/echo']],
  );
  assert.ok(details.statusChanges[0]!.changedByEmail);
  assert.equal((await api.call('PUT', `/api/plugins/${NAME}/status`, { status: 'experimental' })).status, 200);
});

test('uninstall is refused while a published workflow version pins the plugin, naming the workflow', async () => {
  const db = api.database.db;
  const [workflow] = await db.insert(workflows).values({ name: 'greets', draftYaml: 'name: greets\n', activeVersion: 1, updatedAt: new Date() }).returning();
  const digest = archiveDigest(await packFolder(FIXTURE));
  await db.insert(workflowVersions).values({
    workflowId: workflow!.id,
    number: 1,
    yaml: 'name: greets\n',
    sha256: 'x',
    buildResult: {},
    pluginPins: [{ name: NAME, version: '1.0.0', digest }],
  });
  const refused = await api.call('DELETE', `/api/plugins/${NAME}`);
  assert.equal(refused.status, 409);
  const error = (await refused.json()) as { error: { code: string; message: string; workflows: string[] } };
  assert.equal(error.error.code, 'plugin_in_use');
  assert.match(error.error.message, /greets \(version 1 pins test-fixtures\/hello-echo@1\.0\.0\)/);
  assert.deepEqual(error.error.workflows, ['greets']);
  const shown = (await (await api.call('GET', `/api/plugins/${NAME}`)).json()) as { usedBy: Array<{ workflow: string }> };
  assert.deepEqual(
    shown.usedBy.map((u) => u.workflow),
    ['greets'],
  );

  // An old version pinning it does not count once another version is active.
  await db.insert(workflowVersions).values({ workflowId: workflow!.id, number: 2, yaml: 'name: greets\n', sha256: 'y', buildResult: {} });
  await db.update(workflows).set({ activeVersion: 2 }).where(eq(workflows.id, workflow!.id));
  assert.equal((await api.call('DELETE', `/api/plugins/${NAME}`)).status, 204);
  assert.equal((await api.call('GET', `/api/plugins/${NAME}`)).status, 404);
  assert.equal((await upload(await packFolder(FIXTURE))).status, 201, 'installed again after the uninstall');
});

test('`flowyard plugin pack FOLDER OUT` writes the same archive and names its digest; a folder without plugin.yaml fails', async () => {
  const run = promisify(execFile);
  const out = join(scratch, 'cli.tar.gz');
  const root = join(import.meta.dirname, '../..');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'plugin', 'pack', FIXTURE, out], { cwd: root });
  const expected = archiveDigest(await packFolder(FIXTURE));
  assert.equal(archiveDigest(readFileSync(out)), expected);
  assert.ok(stdout.includes(expected), stdout);
  await assert.rejects(
    run(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'plugin', 'pack', join(FIXTURE, 'examples')], { cwd: root }),
    (error: { stderr: string }) => /plugin\.yaml:1:1: missing/.test(error.stderr),
  );
});
