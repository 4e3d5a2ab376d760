import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningRunner } from '../../runners/daemon/daemon.ts';
import { plugins, pluginVersions } from '../../db/schema.ts';
import { archiveDigest, packFiles } from '../../server/services/plugins/archive.ts';
import { startValidationRecorder } from '../../server/services/plugin-validation-results.ts';
import { validateDuePlugins, validationWorkflowName } from '../../server/services/plugin-validation.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { finished, json, rawLog, runnerFor, waitForRun } from '../helpers/runs.ts';

let server: TestServer;
let runner: RunningRunner;
let stopRecorder: () => void;

before(async () => {
  server = await startTestServer();
  runner = await runnerFor(server, 'validator', ['linux', 'docker'], 1);
  stopRecorder = startValidationRecorder(server.database.db, server.events, (error) => console.error(error));
});
after(async () => {
  stopRecorder();
  await runner.stop();
  await server.close();
});

/** The minimal example: it checks the environment's credential arrived, then passes or fails as told. */
const example = (passes: boolean) => `name: minimal
secrets: [STAGING_TOKEN]
triggers:
  - { type: schedule, pipeline: main, cron: "* * * * *" }
pipelines:
  main:
    trigger: { type: webhook, path: /hooks/would-clash }
    runs_on: [docker]
    steps:
      - name: check
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          env: { TOKEN: "{{ .Secrets.STAGING_TOKEN }}" }
          commands: ['echo "token is $TOKEN"', 'test "$TOKEN" = s3cret-token && echo credentials arrived', '${passes ? 'echo the example passed' : 'exit 1'}']
`;

/** Installs a plugin version as the installer would: its manifest, its tar.gz (plugin.yaml + the example) and digest. */
async function installFixture(name: string, version: string, examplePasses: boolean, status: 'verified' | 'experimental' = 'verified') {
  const manifest = {
    name,
    version,
    description: 'fixture plugin for the validation matrix',
    license: 'MIT',
    steps: [
      { type: 'step.fixture_check', description: 'checks', config: { type: 'object' }, runtime: { kind: 'container', image: 'flowyard/busybox:latest' } },
    ],
  };
  const archive = await packFiles(
    new Map([
      ['plugin.yaml', Buffer.from(JSON.stringify(manifest))],
      ['examples/minimal/config.yaml', Buffer.from(example(examplePasses))],
    ]),
  );
  const { db } = server.database;
  await db.insert(plugins).values({ name, status }).onConflictDoNothing();
  await db.insert(pluginVersions).values({ pluginName: name, version, digest: archiveDigest(archive), manifest, archive });
}

const history = async (name: string) => json(await server.call('GET', `/api/plugin-validations/${name}`));

async function validateNow(name: string): Promise<any> {
  const response = await server.call('POST', `/api/plugin-validations/${name}/validate`);
  assert.equal(response.status, 202, await response.clone().text());
  return response.json();
}

/** Validates now, waits for the run to end and for its result to be recorded; returns the run and the history. */
async function validateAndWait(name: string) {
  const start = await validateNow(name);
  assert.equal(start.result, 'running', JSON.stringify(start));
  const run = await waitForRun(server, start.runId, finished, 90_000);
  for (let i = 0; ; i++) {
    const after = await history(name);
    if (after.results[0]?.runId === run.id) return { run, history: after };
    assert.ok(i < 100, `the result of run ${run.id} was never recorded: ${JSON.stringify(after.results)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function attach(name: string, environmentId: string | null) {
  const response = await server.call('PUT', `/api/plugin-validations/${name}/environment`, { environmentId });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

describe('the validation matrix on a real runner', () => {
  test('no environment: not validated, status kept; two red runs demote with both runs recorded; a fixed version is promoted', async () => {
    const name = 'acme/flaky-check';
    await installFixture(name, '1.0.0', false);

    const unattended = await validateNow(name);
    assert.deepEqual([unattended.result, unattended.runId, unattended.version], ['not_validated', null, '1.0.0']);
    const seen = await history(name);
    assert.equal(seen.status, 'verified', 'not validated keeps the status');
    assert.deepEqual(
      seen.results.map((r: any) => r.result),
      ['not_validated'],
    );
    assert.match(seen.results[0].detail, /no validation environment/);

    const env = await json(
      await server.call('POST', '/api/environments', { name: 'staging-account', provider: 'docker', config: {}, secrets: { STAGING_TOKEN: 's3cret-token' } }),
    );
    assert.equal((await attach(name, env.id)).environment.name, 'staging-account');

    const first = await validateAndWait(name);
    assert.equal(first.run.state, 'failed');
    assert.equal(first.run.workflowName, validationWorkflowName(name));
    assert.equal(first.history.status, 'verified', 'one red run does not demote');
    assert.equal(first.history.warning, true, 'one red run is a warning');
    const log = await rawLog(server, first.run.id, 'check');
    assert.match(log, /credentials arrived/, "the environment's secret reached the example");
    assert.match(log, /token is \*\*\*/, 'and is masked in its log');
    assert.ok(!log.includes('s3cret-token'));

    const second = await validateAndWait(name);
    assert.equal(second.run.state, 'failed');
    assert.equal(second.history.status, 'experimental', 'two red runs in a row demote');
    assert.equal(second.history.warning, false);
    assert.deepEqual(
      second.history.results.map((r: any) => [r.result, r.runId, r.version]),
      [
        ['red', second.run.id, '1.0.0'],
        ['red', first.run.id, '1.0.0'],
        ['not_validated', null, '1.0.0'],
      ],
    );
    const demotion = second.history.statusChanges[0];
    assert.deepEqual(
      [demotion.fromStatus, demotion.toStatus, demotion.changedBy, demotion.runIds],
      ['verified', 'experimental', 'validation', [second.run.id, first.run.id]],
    );

    await installFixture(name, '1.1.0', true);
    const fixed = await validateAndWait(name);
    assert.equal(fixed.run.state, 'succeeded');
    assert.equal(fixed.history.status, 'verified', 'a green run promotes');
    assert.deepEqual([fixed.history.results[0].result, fixed.history.results[0].version], ['green', '1.1.0']);
    const promotion = fixed.history.statusChanges[0];
    assert.deepEqual([promotion.fromStatus, promotion.toStatus, promotion.runIds], ['experimental', 'verified', [fixed.run.id]]);
    assert.equal(fixed.history.statusChanges.length, 2);

    const workflow = await json(await server.call('GET', `/api/workflows/${fixed.run.workflowId}`));
    assert.ok(!/would-clash|schedule/.test(workflow.draftYaml ?? ''), "the example's triggers are not published");
    const hooks = await server.database.client.execute('select count(*) as n from webhook_registrations');
    const schedules = await server.database.client.execute('select count(*) as n from schedule_registrations');
    assert.deepEqual([Number(hooks.rows[0]!.n), Number(schedules.rows[0]!.n)], [0, 0]);

    await attach(name, null);
    const detached = await validateNow(name);
    assert.equal(detached.result, 'not_validated');
    assert.equal((await history(name)).status, 'verified', 'detached: not validated, status kept');

    const matrix = await json(await server.call('GET', '/api/plugin-validations?limit=3'));
    const row = matrix.plugins.find((p: any) => p.name === name);
    assert.deepEqual(
      row.results.map((r: any) => r.result),
      ['not_validated', 'green', 'red'],
    );
    assert.equal(row.version, '1.1.0');
  });

  test('the schedule validates each plugin once per slot, even with two schedulers racing', async () => {
    await installFixture('acme/scheduled', '2.0.0', true, 'experimental');
    await installFixture('acme/unattended', '1.0.0', true, 'experimental');
    const env = await json(
      await server.call('POST', '/api/environments', { name: 'sched-env', provider: 'docker', config: {}, secrets: { STAGING_TOKEN: 's3cret-token' } }),
    );
    await attach('acme/scheduled', env.id);
    // Installed two weeks ago: the weekly slot that passed since finds both due.
    await server.database.client.execute({
      sql: "update plugins set created_at = ? where name in ('acme/scheduled', 'acme/unattended')",
      args: [Date.now() - 14 * 24 * 3600_000],
    });
    const deps = { db: server.database.db, events: server.events, secretsKey: await secretsKey() };
    const counts = await Promise.all([validateDuePlugins(deps, '0 3 * * 1'), validateDuePlugins(deps, '0 3 * * 1')]);
    assert.equal(counts[0] + counts[1], 1, `one validation run in all: ${counts}`);
    assert.equal(await validateDuePlugins(deps, '0 3 * * 1'), 0, 'the slot already fired');
    const unattended = await history('acme/unattended');
    assert.deepEqual(
      unattended.results.map((r: any) => r.result),
      ['not_validated'],
      'one not_validated record for the plugin without an environment',
    );
    const runs = await server.database.client.execute(
      "select id, trigger_type from runs where json_extract(trigger_payload, '$.plugin') = 'acme/scheduled' and json_extract(trigger_payload, '$.type') = 'plugin_validation'",
    );
    assert.equal(runs.rows.length, 1);
    assert.equal(runs.rows[0]!.trigger_type, 'schedule');
    await waitForRun(server, String(runs.rows[0]!.id), finished, 90_000);
    for (let i = 0; (await history('acme/scheduled')).status !== 'verified'; i++) {
      assert.ok(i < 100, 'the scheduled green run promotes the plugin');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test('bad input: unknown plugin 404, unknown environment 422, malformed names and limits 400', async () => {
    assert.equal((await server.call('POST', '/api/plugin-validations/acme/nope/validate')).status, 404);
    await installFixture('acme/other', '1.0.0', true);
    const unknownEnv = await server.call('PUT', '/api/plugin-validations/acme/other/environment', { environmentId: 'missing' });
    assert.equal(unknownEnv.status, 422);
    assert.match((await unknownEnv.json()).error.message, /environment missing does not exist/);
    assert.equal((await server.call('GET', '/api/plugin-validations/ACME/Bad')).status, 400);
    assert.equal((await server.call('GET', '/api/plugin-validations?limit=0')).status, 400);
  });
});

async function secretsKey(): Promise<CryptoKey> {
  const { secretsKeyFrom } = await import('../../server/services/secrets.ts');
  const { serverSecret } = await import('../../server/cli/deps.ts');
  return secretsKeyFrom(serverSecret(server.database.dir, {}));
}
