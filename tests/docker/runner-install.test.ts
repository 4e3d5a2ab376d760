import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { finished, json, publishWorkflow, rawLog, startRun, waitForRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Installing every dependency from the npm registry takes minutes on a busy machine with a cold cache.
const INSTALL_TIMEOUT_MS = 8 * 60_000;

let server: TestServer;
const dirs: string[] = [];
const children: ChildProcess[] = [];

before(async () => {
  server = await startTestServer();
});

after(async () => {
  for (const child of children) child.kill('SIGTERM');
  await server.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('the tarball is public, the install command names it, and nothing else is served under /downloads', async () => {
  const unauthenticated = await fetch(`${server.url}/api/runners/install`);
  assert.equal(unauthenticated.status, 401);
  const install = await json(await server.call('GET', '/api/runners/install'));
  assert.match(install.version, /^\d+\.\d+\.\d+/);
  assert.equal(install.tarballUrl, `${server.url}/downloads/flowyard-${install.version}.tgz`);
  assert.equal(install.command, `npx --yes ${install.tarballUrl} runner --url ${server.url} --token <REGISTRATION_TOKEN> --labels linux,docker`);

  const tarball = await fetch(install.tarballUrl);
  assert.equal(tarball.status, 200, await tarball.clone().text());
  assert.equal(tarball.headers.get('content-type'), 'application/gzip');
  const bytes = new Uint8Array(await tarball.arrayBuffer());
  assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b], 'gzip');

  for (const path of ['/downloads/flowyard-0.0.0.tgz', '/downloads/..%2Fpackage.json', '/downloads/secret.key']) {
    const response = await fetch(`${server.url}${path}`);
    assert.equal(response.status, 404, path);
    assert.equal((await response.json()).error.code, 'not_found');
  }
});

test(
  'an empty folder installs the served package with npm, and its runner registers and runs a job to success',
  { timeout: INSTALL_TIMEOUT_MS + 120_000 },
  async () => {
    const { tarballUrl } = await json(await server.call('GET', '/api/runners/install'));
    const host = mkdtempSync(join(tmpdir(), 'flowyard-runner-host-'));
    dirs.push(host);
    const started = Date.now();
    const installed = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error', tarballUrl], host);
    const installSeconds = Math.round((Date.now() - started) / 1000);
    assert.equal(installed.code, 0, installed.output);
    console.log(`# npm install of the served package: ${installSeconds} s`);
    const flowyard = join(host, 'node_modules', '.bin', 'flowyard');
    assert.ok(existsSync(flowyard));

    const label = `installed-${Date.now().toString(36)}`;
    const created = await json(await server.call('POST', '/api/runner-tokens', { description: 'install test' }));
    const runner = spawn(
      flowyard,
      ['runner', '--url', server.url, '--token', created.token, '--name', label, '--labels', `linux,docker,${label}`, '--config', join(host, 'runner.json')],
      {
        cwd: host,
        env: { ...process.env, HOME: host },
      },
    );
    children.push(runner);
    let runnerOutput = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the runner did not start: ${runnerOutput}`)), 60_000);
      const collect = (chunk: Buffer) => {
        runnerOutput += chunk.toString();
        if (runnerOutput.includes('taking jobs from')) {
          clearTimeout(timer);
          resolve();
        }
      };
      runner.stdout.on('data', collect);
      runner.stderr.on('data', collect);
      runner.once('exit', (code) => reject(new Error(`the runner exited with ${code}: ${runnerOutput}`)));
    });

    const workflowId = await publishWorkflow(
      server,
      `installed-${label}`,
      `name: installed
pipelines:
  main:
    runs_on: [${label}]
    steps:
      - name: hello
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo hello from the installed runner"] }
`,
    );
    const { id } = await startRun(server, workflowId);
    const done = await waitForRun(server, id, finished, 120_000);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.steps));
    assert.match(await rawLog(server, id, 'hello'), /hello from the installed runner/);
    const { runners } = await json(await server.call('GET', '/api/runners'));
    assert.ok(
      runners.some((r: { name: string }) => r.name === label),
      'registered under its own name',
    );
  },
);
