import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { workspaceVolumeName } from '../../runners/docker/workspace.ts';
import { docker } from '../helpers/runs.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ADMIN_TOKEN = 'fy_test_serve_admin_token_0123456789';
const dataDir = mkdtempSync(join(tmpdir(), 'flowyard-serve-kill-'));
const children: ChildProcess[] = [];

after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** `flowyard serve` with its embedded runner; resolves once the runner takes jobs. */
async function serve(port: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve', '--port', String(port), '--data', dataDir], {
    cwd: ROOT,
    env: { ...process.env, FLOWYARD_ADMIN_TOKEN: ADMIN_TOKEN, FLOWYARD_LEASE_MS: '3000' },
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr!.on('data', (data: Buffer) => (output += data.toString()));
  const deadline = Date.now() + 60_000;
  while (!/embedded runner .* is taking jobs/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start its runner: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => output };
}

function api(port: number, method: string, path: string, body?: unknown) {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function waitForRun(port: number, runId: string, done: (run: any) => boolean, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await (await api(port, 'GET', `/api/runs/${runId}`)).json();
    if (done(run)) return run;
    if (Date.now() > deadline) throw new Error(`run still ${run.state}: ${JSON.stringify(run.steps)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const exists = (what: () => Promise<unknown>) =>
  what().then(
    () => true,
    () => false,
  );

test('serve killed with SIGKILL mid-step: the delivered lines are kept and the next start removes the orphaned container', async () => {
  const port = await freePort();
  const first = await serve(port);
  const created = await api(port, 'POST', '/api/workflows', {
    name: 'killed-serve',
    yaml: `name: killed-serve
pipelines:
  main:
    runs_on: [embedded]
    steps:
      - name: work
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo started", "sleep 120"] }
`,
  });
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = await created.json();
  assert.equal((await api(port, 'POST', `/api/workflows/${id}/publish`)).status, 200);
  const run = await (await api(port, 'POST', `/api/workflows/${id}/runs`, { inputs: {} })).json();
  await waitForRun(port, run.id, (r) => r.steps[0].state === 'running' && r.steps[0].logBytes > 0);
  const [container] = await docker.listContainers({ all: true, filters: { label: [`flowyard.run=${run.id}`] } });
  assert.ok(container?.Labels['flowyard.runner'], 'the step container carries the runner id');
  const volume = docker.getVolume(workspaceVolumeName(container.Labels['flowyard.job']!));

  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  assert.equal((await docker.getContainer(container.Id).inspect()).State.Running, true, 'the orphan outlives the killed process');

  const second = await serve(port);
  try {
    assert.match(second.output(), /removed 1 container\(s\) and 1 workspace volume\(s\)/);
    assert.equal(await exists(() => docker.getContainer(container.Id).inspect()), false);
    assert.equal(await exists(() => volume.inspect()), false);
    const ended = await waitForRun(port, run.id, (r) => r.state !== 'running', 20_000);
    assert.equal(ended.error, 'runner lost');
    assert.match(await (await api(port, 'GET', `/api/runs/${run.id}/logs?step=work`)).text(), /^started$/m, 'lines delivered before the kill are kept');
  } finally {
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  }
});
