/**
 * Work done by the services outside any request (a schedule firing, a gate timing out) wakes the runners
 * long-polling `claim` at once: the services publish on the injected event bus, not the routes. Without the
 * event a waiting claim only sees the job at its next database poll, about a second later.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expireGates } from '../../server/services/gates.ts';
import { createRegistrationToken } from '../../server/services/runners.ts';
import { fireDueSchedules } from '../../server/services/triggers.ts';
import { testApi, type TestApi } from '../helpers/api.ts';

/** Well under the claim loop's database poll (1 s), well over what the wake itself takes. */
const WOKEN_WITHIN_MS = 450;
/** Long enough for the claim to have polled once, found nothing and gone to wait. */
const SETTLE_MS = 150;

let api: TestApi;
before(async () => {
  api = await testApi();
});
after(() => api.database.cleanup());

/** A runner registered through the protocol routes, each with its own label so tests never take each other's jobs. */
async function runner(label: string) {
  const { token: registrationToken } = await createRegistrationToken(api.database.db, { description: label }, null);
  const registered = await api.app.request('/api/runner/v1/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ registrationToken, name: label, labels: [label] }),
  });
  assert.equal(registered.status, 201, await registered.clone().text());
  const { token } = (await registered.json()) as { token: string };
  const call = (path: string, body: unknown) =>
    Promise.resolve(
      api.app.request(`/api/runner/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );
  return {
    call,
    /** Starts a long-poll; resolves with the job and when the answer came. */
    claim(waitSeconds: number) {
      return call('/claim', { waitSeconds }).then(async (response) => {
        const answeredAt = Date.now();
        assert.equal(response.status, 200, `claim answered ${response.status}: ${await response.clone().text()}`);
        return { job: ((await response.json()) as { job: { jobId: string; runId: string } }).job, answeredAt };
      });
    },
  };
}

async function published(name: string, yaml: string): Promise<string> {
  const created = await api.call('POST', '/api/workflows', { name, yaml });
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = (await created.json()) as { id: string };
  const publish = await api.call('POST', `/api/workflows/${id}/publish`);
  assert.equal(publish.status, 200, await publish.clone().text());
  return id;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a run fired by a schedule wakes a waiting claim at once', async () => {
  const id = await published(
    'scheduled-wake',
    `name: scheduled-wake
pipelines:
  nightly:
    runs_on: [sched]
    trigger: { type: schedule, config: { cron: "0 3 * * *", timezone: UTC } }
    steps:
      - { name: say, type: step.log, config: { message: tick } }
`,
  );
  const [registration] = (await api.database.client.execute({ sql: 'select next_run_at from schedule_registrations where workflow_id = ?', args: [id] })).rows;
  const slot = new Date(Number(registration!.next_run_at));
  const sched = await runner('sched');
  const waiting = sched.claim(10);
  await sleep(SETTLE_MS);
  const firedAt = Date.now();
  assert.equal(await fireDueSchedules(api.database.db, api.events, new Date(slot.getTime() + 1000)), 1);
  const { job, answeredAt } = await waiting;
  const run = (await (await api.call('GET', `/api/runs/${job.runId}`)).json()) as { workflowId: string; triggerType: string };
  assert.deepEqual([run.workflowId, run.triggerType], [id, 'schedule']);
  assert.ok(answeredAt - firedAt < WOKEN_WITHIN_MS, `the claim answered ${answeredAt - firedAt} ms after the schedule fired`);
});

test('a gate decided by its timeout wakes a waiting claim for the job after it at once', async () => {
  const id = await published(
    'gate-wake',
    `name: gate-wake
pipelines:
  release:
    runs_on: [gated]
    steps:
      - { name: build, type: step.log, config: { message: built } }
      - { name: hold, type: step.gate, config: { type: manual, timeout: 1h, on_timeout: approve } }
      - { name: ship, type: step.log, config: { message: shipped } }
`,
  );
  const started = await api.call('POST', `/api/workflows/${id}/runs`, {});
  assert.equal(started.status, 201, await started.clone().text());
  const { id: runId } = (await started.json()) as { id: string };
  const gated = await runner('gated');
  const first = await gated.claim(0);
  assert.equal(first.job.runId, runId);
  const done = await gated.call(`/jobs/${first.job.jobId}/done`, { state: 'succeeded' });
  assert.equal(done.status, 204, await done.text());
  assert.equal(((await (await api.call('GET', `/api/runs/${runId}`)).json()) as { state: string }).state, 'waiting');

  const waiting = gated.claim(10);
  await sleep(SETTLE_MS);
  const decidedAt = Date.now();
  assert.equal(await expireGates(api.database.db, api.events, new Date(Date.now() + 2 * 3_600_000)), 1);
  const { job, answeredAt } = await waiting;
  assert.equal(job.runId, runId);
  assert.notEqual(job.jobId, first.job.jobId, 'the job after the gate, not the first one again');
  const run = (await (await api.call('GET', `/api/runs/${runId}`)).json()) as { gateDecisions: Array<{ via: string; decision: string }> };
  assert.deepEqual(
    run.gateDecisions.map((d) => [d.via, d.decision]),
    [['timeout', 'approved']],
  );
  assert.ok(answeredAt - decidedAt < WOKEN_WITHIN_MS, `the claim answered ${answeredAt - decidedAt} ms after the gate timed out`);
});
