/**
 * `flowyard runner --metrics-port 0` as its own process with the real Docker engine: it says where its
 * metrics are (loopback), and after it runs a job the scrape shows the steps by result, the log bytes it
 * sent, no job running and an empty outbox; its log lines are JSON on stderr.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { finished, publishWorkflow, startRun, waitForRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'flowyard-runner-metrics-'));
let server: TestServer;
let child: ChildProcess | undefined;
let stdout = '';
let stderr = '';

before(async () => {
  server = await startTestServer();
});
after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('the runner serves its metrics on loopback and counts the job it ran', { timeout: 180_000 }, async () => {
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'server/cli/main.ts',
      'runner',
      '--url',
      server.url,
      '--token',
      await server.registrationToken(),
      '--labels',
      'metered-runner',
      '--config',
      join(dir, 'runner.json'),
      '--metrics-port',
      '0',
    ],
    { cwd: ROOT, env: { ...process.env, FLOWYARD_LOG_LEVEL: 'info' } },
  );
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!/metrics at (\S+)/.test(stdout)) {
    assert.ok(child.exitCode === null && Date.now() < deadline, `the runner did not start: ${stdout}${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(stdout, /taking jobs from/, 'the human start line is unchanged');
  const url = /metrics at (\S+)/.exec(stdout)![1]!;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, 'loopback by default');

  const idle = await (await fetch(url)).text();
  assert.equal(value(idle, 'flowyard_runner_jobs_running'), 0);
  assert.equal(value(idle, 'flowyard_runner_outbox_depth'), 0);
  assert.equal(value(idle, 'flowyard_runner_log_bytes_sent_total'), 0);

  const workflowId = await publishWorkflow(
    server,
    'runner-metered',
    `name: runner-metered
pipelines:
  main:
    runs_on: [metered-runner]
    steps:
      - name: speak
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo one line of output", "echo another"] }
      - name: say
        type: step.log
        config: { message: done }
`,
  );
  const run = await waitForRun(server, (await startRun(server, workflowId)).id, finished, 150_000);
  assert.equal(run.state, 'succeeded', JSON.stringify(run.steps));

  const scrape = await fetch(url);
  assert.equal(scrape.status, 200);
  assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await scrape.text();
  assert.equal(value(text, 'flowyard_runner_steps_total{result="succeeded"}'), 2, text);
  assert.ok((value(text, 'flowyard_runner_log_bytes_sent_total') ?? 0) >= 'one line of output\n'.length, text);
  assert.equal(value(text, 'flowyard_runner_jobs_running'), 0);
  assert.equal(value(text, 'flowyard_runner_outbox_depth'), 0);
  assert.equal((await fetch(url.replace('/metrics', '/other'))).status, 404);

  const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
  const took = lines.map((l) => JSON.parse(l) as { msg: string; process: string; level: number }).find((l) => /took job/.test(l.msg));
  assert.ok(took, `a JSON log line for the job: ${stderr}`);
  assert.equal(took.process, 'runner');
  assert.equal(took.level, 30);
});
