// The example plugins end to end: uploaded to a real Flowyard, their examples/minimal workflows published as they
// are, and run by a real runner daemon, which fetches the kv archive with the runner protocol's pluginArchive call
// (digest checked), starts its service, and runs the http-check image on the run's network.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningRunner } from '../../runners/daemon/daemon.ts';
import { buildExamplePlugins, type PackedPlugin } from '../../scripts/build-example-plugins.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { docker, finished, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let runner: RunningRunner;
let plugins: Record<'http-check' | 'kv', PackedPlugin>;

before(async () => {
  plugins = await buildExamplePlugins();
  server = await startTestServer();
  for (const plugin of Object.values(plugins)) {
    const uploaded = await fetch(`${server.url}/api/plugins/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/gzip' },
      body: new Uint8Array(plugin.archive),
    });
    assert.equal(uploaded.status, 201, await uploaded.text());
  }
  runner = await runnerFor(server, 'plugin-runner');
});

after(async () => {
  await runner?.stop();
  await server?.close();
});

async function runMinimalExample(name: 'http-check' | 'kv') {
  const yaml = await readFile(join(plugins[name].folder, 'examples/minimal/config.yaml'), 'utf8');
  const id = await publishWorkflow(server, `${name}-minimal`, yaml);
  const queued = await startRun(server, id);
  return waitForRun(server, queued.id, finished, 120_000);
}

const stepOf = (run: { steps: Array<{ name: string }> }, name: string) => run.steps.find((s) => s.name === name) as Record<string, any>;

test("the kv plugin's minimal example runs on a runner that fetched its archive and started its service", async () => {
  const run = await runMinimalExample('kv');
  assert.equal(run.state, 'succeeded', JSON.stringify(run.steps));
  assert.deepEqual(stepOf(run, 'greet').outputs, { text: 'hello from run 1, stored as greeting' });
  assert.match(await rawLog(server, run.id, 'remember'), /kv set in kv-minimal #1 step remember\n/);
  assert.match(await rawLog(server, run.id, 'show'), /hello from run 1, stored as greeting/);
});

test("the http-check plugin's minimal example checks a service an earlier step started on the run's network", async () => {
  const run = await runMinimalExample('http-check');
  assert.equal(run.state, 'succeeded', `${JSON.stringify(run.steps)}\n${await rawLog(server, run.id, 'check').catch(() => '')}`);
  const check = stepOf(run, 'check');
  assert.equal(check.outputs.status, 200);
  assert.equal(check.outputs.ok, true);
  assert.match(await rawLog(server, run.id, 'report'), /status 200 in \d+ ms/);
  // A detached service outlives its run (the example's stops itself after two minutes); this one goes now.
  for (const container of await docker.listContainers({ all: true, filters: { label: [`flowyard.run=${run.id}`] } })) {
    await docker.getContainer(container.Id).remove({ force: true });
  }
});
