import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningRunner } from '../../runners/daemon/daemon.ts';
import { startProxy, type HttpProxy } from '../helpers/proxy.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { finished, json, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';

// Lower-case letters and digits, so the secret is a valid part of an image name.
const SECRET = 'k3ylk9secretvalue77';

let server: TestServer;
let proxy: HttpProxy;
let runner: RunningRunner;

// The runner talks to the API through a recording proxy: what it sends is checked, not only what the
// server stores (the server masks too, as a second line of defence).
before(async () => {
  server = await startTestServer({ leaseMs: 5000 });
  proxy = await startProxy(server.url);
  runner = await runnerFor(server, 'masking-runner', ['masking'], 1, proxy.url);
});
after(async () => {
  await runner.stop();
  await proxy.close();
  await server.close();
});

/** Every text column of the tables the runner's reports land in, as one string. */
async function storedReports(runId: string): Promise<string> {
  const { client } = server.database;
  const rows = [
    ...(await client.execute({ sql: 'select error, outputs from runs where id = ?', args: [runId] })).rows,
    ...(await client.execute({ sql: 'select error from jobs where run_id = ?', args: [runId] })).rows,
    ...(await client.execute({ sql: 'select error, outputs from run_steps where run_id = ?', args: [runId] })).rows,
  ];
  return JSON.stringify(rows);
}

test('a secret in step.set values, step outputs, errors Flowyard writes and step.fail messages is reported as ***', async () => {
  const id = await publishWorkflow(
    server,
    'leaky',
    `name: leaky
secrets: [API_KEY]
pipelines:
  main:
    runs_on: [masking]
    steps:
      - name: remember
        type: step.set
        config: { values: { token: "{{ .Secrets.API_KEY }}", note: "the key is {{ .Secrets.API_KEY }}", nested: ["{{ .Secrets.API_KEY }}"] } }
      - name: pull
        type: step.shell_exec
        continue_on_error: true
        config:
          image: "127.0.0.1:5000/{{ .Secrets.API_KEY }}/x:latest"
          pull_policy: always
          commands: ["true"]
      - name: use-output
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          env: { FROM_SET: "{{ .steps.remember.token }}" }
          commands: ['test "$FROM_SET" = "$API_KEY"', 'echo "from set: $FROM_SET"']
      - name: fail
        type: step.fail
        config: { message: "failing with {{ .Secrets.API_KEY }}" }
`,
  );
  assert.equal((await server.call('PUT', `/api/workflows/${id}/secrets/API_KEY`, { value: SECRET })).status, 204);
  const run = await waitForRun(server, (await startRun(server, id)).id, finished);
  assert.equal(run.state, 'failed');

  const steps = Object.fromEntries(run.steps.map((s: any) => [s.name, s]));
  assert.deepEqual(steps.remember.outputs, { token: '***', note: 'the key is ***', nested: ['***'] });
  assert.equal(steps.pull.state, 'failed');
  assert.match(steps.pull.error, /127\.0\.0\.1:5000\/\*\*\*\/x/, 'the pull error names the image, masked');
  assert.equal(steps.fail.error, 'failing with ***');
  assert.match(run.error, /failing with \*\*\*/);

  const reports = proxy.requests.filter((r) => /\/jobs\/[^/]+\/(steps\/\d+|done)$/.test(r.path));
  assert.ok(reports.some((r) => r.path.endsWith('/done')) && reports.length > 8, `reports seen: ${reports.map((r) => r.path)}`);
  for (const report of reports) assert.ok(!report.body.includes(SECRET), `the runner sent a secret to ${report.path}: ${report.body}`);
  assert.ok(reports.some((r) => r.body.includes('failing with ***')));

  const stored = await storedReports(run.id);
  assert.ok(!stored.includes(SECRET), `a secret reached the database: ${stored}`);
  assert.match(stored, /\*\*\*/);
  const api = JSON.stringify(await json(await server.call('GET', `/api/runs/${run.id}`)));
  assert.ok(!api.includes(SECRET));
  assert.equal(steps['use-output'].state, 'succeeded', 'later steps still see the real value');
  for (const step of ['remember', 'pull', 'use-output', 'fail']) {
    const log = await rawLog(server, run.id, step);
    assert.ok(!log.includes(SECRET), `${step} log: ${log}`);
  }
  assert.match(await rawLog(server, run.id, 'use-output'), /from set: \*\*\*/);
});
