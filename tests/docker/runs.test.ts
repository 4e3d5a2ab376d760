import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningRunner } from '../../runners/daemon/daemon.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { decodeChunk } from '../../server/services/logs.ts';
import { readArchivedPage } from '../../server/services/log-archive-read.ts';
import type { LogEncoding } from '../../db/schema.ts';
import { finished, json, managedContainers, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';

let server: TestServer;
let runner: RunningRunner;

before(async () => {
  server = await startTestServer({ leaseMs: 3000 });
  runner = await runnerFor(server, 'main-runner', ['linux', 'docker'], 2);
});
after(async () => {
  await runner.stop();
  await server.close();
});

const shellWorkflow = (name: string, steps: string, extra = '') => `name: ${name}
secrets: [API_KEY]
pipelines:
  main:
    runs_on: [docker]
${extra}    steps:
${steps}`;

describe('runs on a self-registered runner', () => {
  test('steps run in order in one workspace; outputs feed later templates; logs stream and download alike', async () => {
    const id = await publishWorkflow(
      server,
      'happy',
      shellWorkflow(
        'happy',
        `      - name: write
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands: ["echo made > note.txt", "printf '\\\\033[32mgreen\\\\033[0m\\\\n'"]
      - name: names
        type: step.set
        config: { values: { greeting: "hello {{ .Inputs.who }}" } }
      - name: read
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          env: { GREETING: "{{ .steps.names.greeting }}", FIRST_EXIT: "{{ .steps.write.exit_code }}" }
          commands: ["cat note.txt", "echo $GREETING after $FIRST_EXIT", "for i in 1 2 3; do echo line $i; sleep 0.2; done"]
`,
        '    inputs: { who: { type: string, default: world } }\n',
      ),
    );
    const queued = await startRun(server, id, { who: 'flowyard' });
    assert.equal(queued.number, 1);
    assert.equal(queued.state, 'queued');
    const run = await waitForRun(server, queued.id, finished);
    assert.equal(run.state, 'succeeded', JSON.stringify(run));
    assert.deepEqual(
      run.steps.map((s: any) => [s.name, s.state, s.exitCode]),
      [
        ['write', 'succeeded', 0],
        ['names', 'succeeded', null],
        ['read', 'succeeded', 0],
      ],
    );
    const log = await rawLog(server, run.id, 'read');
    assert.match(log, /^made$/m);
    assert.match(log, /^hello flowyard after 0$/m);
    assert.match(log, /line 1\nline 2\nline 3/);
    assert.ok((await rawLog(server, run.id, 'write')).includes('\x1b[32mgreen\x1b[0m'), 'ANSI colours are kept');
    assert.equal(await managedContainers(run.id), 0);

    const sse = await fetch(`${server.url}/api/runs/${run.id}/logs?step=read`, {
      headers: { authorization: `Bearer ${(await import('../helpers/api.ts')).TEST_ADMIN_TOKEN}`, accept: 'text/event-stream' },
    });
    const events = (await sse.text()).split('\n\n').filter(Boolean);
    const text = events
      .filter((e) => e.startsWith('event: log'))
      .map(
        (e) =>
          JSON.parse(
            e
              .split('\n')
              .find((l) => l.startsWith('data: '))!
              .slice(6),
          ) as string,
      )
      .join('');
    assert.equal(text, log);
    assert.match(events.at(-1)!, /^event: end\ndata: \{"state":"succeeded"\}/);

    const second = await startRun(server, id);
    assert.equal(second.number, 2);
    await waitForRun(server, second.id, finished);
    const page = await json(await server.call('GET', `/api/workflows/${id}/runs?limit=1`));
    assert.deepEqual(
      page.runs.map((r: any) => r.number),
      [2],
    );
    assert.equal(page.nextBefore, 2);
  });

  test('a failing command fails the step and the run; later steps are skipped; continue_on_error does not fail it', async () => {
    const id = await publishWorkflow(
      server,
      'failing',
      shellWorkflow(
        'failing',
        `      - name: tolerated
        type: step.shell_exec
        continue_on_error: true
        config: { image: flowyard/busybox:latest, commands: ["exit 4"] }
      - name: broken
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo before", "false", "echo never"] }
      - name: after
        type: step.log
        config: { message: unreachable }
`,
      ),
    );
    const run = await waitForRun(server, (await startRun(server, id)).id, finished);
    assert.equal(run.state, 'failed');
    assert.match(run.error, /step broken failed/);
    assert.deepEqual(
      run.steps.map((s: any) => [s.name, s.state, s.exitCode]),
      [
        ['tolerated', 'failed', 4],
        ['broken', 'failed', 1],
        ['after', 'skipped', null],
      ],
    );
    const log = await rawLog(server, run.id, 'broken');
    assert.match(log, /before/);
    assert.doesNotMatch(log, /^never$/m);
  });

  test('secrets reach the step as env and never appear in stored or streamed logs', async () => {
    const id = await publishWorkflow(
      server,
      'secretive',
      shellWorkflow(
        'secretive',
        `      - name: leak
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          env: { TOKEN_COPY: "{{ .Secrets.API_KEY }}" }
          commands: ["echo key=$API_KEY", "echo copy=$TOKEN_COPY", "echo $API_KEY | wc -c"]
`,
      ),
    );
    const secret = 's3cr3t-value-xyz';
    assert.equal((await server.call('PUT', `/api/workflows/${id}/secrets/API_KEY`, { value: secret })).status, 204);
    const listed = await json(await server.call('GET', `/api/workflows/${id}/secrets`));
    assert.deepEqual(
      listed.secrets.map((s: any) => s.name),
      ['API_KEY'],
    );
    assert.ok(!JSON.stringify(listed).includes(secret));
    const run = await waitForRun(server, (await startRun(server, id)).id, finished);
    assert.equal(run.state, 'succeeded');
    const log = await rawLog(server, run.id, 'leak');
    assert.ok(!log.includes(secret), log);
    assert.match(log, /key=\*\*\*/);
    assert.match(log, /copy=\*\*\*/);
    assert.match(log, /^\s*17$/m, 'the real value (16 chars + newline) was in the container');
    // What is at rest, decoded: rows (compressed or not) and the steps already archived to the store.
    const rows = await server.database.client.execute('select data, encoding from log_chunks');
    const atRest = await Promise.all(
      rows.rows.map((row) => decodeChunk({ data: new Uint8Array(row.data as ArrayBuffer), encoding: row.encoding as LogEncoding })),
    );
    const archives = await server.database.client.execute('select run_id, step_index, chunks from log_archives');
    for (const archive of archives.rows) {
      const page = await readArchivedPage(server.database.db, String(archive.run_id), Number(archive.step_index), {
        afterSeq: -1,
        limit: Number(archive.chunks),
      });
      atRest.push(...page!.map((chunk) => chunk.data));
    }
    const text = Buffer.concat(atRest).toString();
    assert.match(text, /key=\*\*\*/, 'the masked log is among what was read');
    assert.ok(!text.includes(secret), 'the secret is nowhere at rest');
  });

  test('cancel reaches the container within 5 s and the run ends cancelled', async () => {
    const id = await publishWorkflow(
      server,
      'long',
      shellWorkflow(
        'long',
        `      - name: sleepy
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo started", "sleep 60"] }
`,
      ),
    );
    const queued = await startRun(server, id);
    await waitForRun(server, queued.id, (run) => run.steps[0].state === 'running' && run.steps[0].logBytes > 0);
    const asked = Date.now();
    const cancel = await server.call('POST', `/api/runs/${queued.id}/cancel`);
    assert.equal(cancel.status, 200);
    const run = await waitForRun(server, queued.id, finished, 15_000);
    assert.equal(run.state, 'cancelled');
    assert.ok(Date.now() - asked < 5000 + 1500, `took ${Date.now() - asked} ms`);
    assert.equal(run.steps[0].state, 'cancelled');
    assert.equal(await managedContainers(queued.id), 0);
    assert.equal((await server.call('POST', `/api/runs/${queued.id}/cancel`)).status, 409);
  });

  test('a queued run is cancelled at once', async () => {
    const id = await publishWorkflow(
      server,
      'nobody-runs-me',
      shellWorkflow(
        'nobody-runs-me',
        `      - name: s
        type: step.log
        config: { message: hi }
`,
      ).replace('runs_on: [docker]', 'runs_on: [gpu]'),
    );
    const queued = await startRun(server, id);
    const run = await json(await server.call('POST', `/api/runs/${queued.id}/cancel`));
    assert.equal(run.state, 'cancelled');
    assert.equal(run.steps[0].state, 'cancelled');
  });
});
