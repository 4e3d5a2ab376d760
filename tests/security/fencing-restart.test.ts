import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { workspaceVolumeName } from '../../runners/docker/workspace.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { docker, finished, publishWorkflow, rawLog, startRun, waitForRun } from '../helpers/runs.ts';

const ROOT = resolve(import.meta.dirname, '../..');
let server: TestServer;
let dir: string;
const children: ChildProcess[] = [];

before(async () => {
  server = await startTestServer({ leaseMs: 3000 });
  dir = mkdtempSync(join(tmpdir(), 'flowyard-restart-'));
});
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `flowyard runner` as its own process; resolves once it says it is taking jobs. */
async function runnerProcess(args: string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'server/cli/main.ts',
      'runner',
      '--url',
      server.url,
      '--labels',
      'crashy',
      '--capacity',
      '1',
      '--config',
      join(dir, 'runner.json'),
      ...args,
    ],
    { cwd: ROOT },
  );
  children.push(child);
  let output = '';
  child.stdout!.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr!.on('data', (data: Buffer) => (output += data.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes('taking jobs')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the runner did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => output };
}

async function exists(what: () => Promise<unknown>): Promise<boolean> {
  try {
    await what();
    return true;
  } catch {
    return false;
  }
}

test('a runner killed with SIGKILL mid-step removes the container and workspace it left when it starts again', async () => {
  const id = await publishWorkflow(
    server,
    'crashy',
    `name: crashy
pipelines:
  main:
    runs_on: [crashy]
    steps:
      - name: work
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo started", "sleep 120"] }
`,
  );
  const first = await runnerProcess(['--token', await server.registrationToken(), '--name', 'crashy']);
  const { runnerId } = JSON.parse(readFileSync(join(dir, 'runner.json'), 'utf8')) as { runnerId: string };
  const run = await startRun(server, id);
  await waitForRun(server, run.id, (r) => r.steps[0].state === 'running' && r.steps[0].logBytes > 0);
  const [container] = await docker.listContainers({ all: true, filters: { label: [`flowyard.run=${run.id}`] } });
  assert.ok(container, 'the step container runs');
  assert.equal(container.Labels['flowyard.runner'], runnerId);
  const jobId = container.Labels['flowyard.job']!;
  const volume = docker.getVolume(workspaceVolumeName(jobId));
  assert.equal((await volume.inspect()).Labels['flowyard.runner'], runnerId);

  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  const ended = await waitForRun(server, run.id, finished, 15_000);
  assert.equal(ended.state, 'failed');
  assert.equal(ended.error, 'runner lost');
  assert.match(await rawLog(server, run.id, 'work'), /^started$/m, 'the lines delivered before the crash are kept');
  assert.equal((await docker.getContainer(container.Id).inspect()).State.Running, true, 'nothing stopped the orphaned container');

  const second = await runnerProcess(['--name', 'crashy']);
  try {
    assert.match(second.output(), /removed 1 container\(s\) and 1 workspace volume\(s\)/);
    assert.equal(await exists(() => docker.getContainer(container.Id).inspect()), false, 'the orphaned container is removed at start');
    assert.equal(await exists(() => volume.inspect()), false, 'the orphaned workspace volume is removed at start');
  } finally {
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  }
});
