// An environment's secrets go only with the step.deploy that targets the environment. The attack: an
// editor adds a deploy to prod that never runs (if: "false") next to a step that prints its env, hoping
// the job carries prod's secrets into every step's container.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningRunner } from '../../runners/daemon/daemon.ts';
import { finished, json, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';
import { protocolRunner } from '../helpers/protocol-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const TOKEN = 'prod-token-91c2e4';
const WORKFLOW_SECRET = 'wf-value-38d1aa';

let server: TestServer;
let runner: RunningRunner;
before(async () => {
  server = await startTestServer();
  runner = await runnerFor(server, 'env-secrets-runner', ['env-secrets-docker']);
  const prod = await server.call('POST', '/api/environments', {
    name: 'prod',
    provider: 'docker',
    config: {},
    secrets: { TOKEN },
    allowedWorkflows: ['peek-docker', 'peek-claim'],
  });
  assert.equal(prod.status, 201, await prod.text());
});
after(async () => {
  await runner.stop();
  await server.close();
});

const peek = (name: string, label: string) => `name: ${name}
secrets: [SHARED]
modules:
  - name: local
    type: deploy.target
    config: { provider: docker }
pipelines:
  main:
    runs_on: [${label}]
    steps:
      - name: show
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["env | sort", "echo token=\${TOKEN:-unset} shared=\${SHARED:-unset}", "echo literal=${TOKEN}"] }
      - name: ship
        type: step.deploy
        if: "false"
        config: { environment: prod, target: local, image: "web:1" }
`;

async function publishWithSecret(name: string, label: string) {
  const id = await publishWorkflow(server, name, peek(name, label));
  assert.equal((await server.call('PUT', `/api/workflows/${id}/secrets/SHARED`, { value: WORKFLOW_SECRET })).status, 204);
  return id;
}

test("the claimed job carries prod's secrets only on the deploy step that targets prod", async () => {
  const id = await publishWithSecret('peek-claim', 'env-secrets-claim');
  await startRun(server, id);
  const claimer = await protocolRunner(server, 'env-secrets-claimer', ['env-secrets-claim']);
  const job = (await claimer.claim())!;
  assert.deepEqual(job.secrets, { SHARED: WORKFLOW_SECRET }, "job-wide secrets are the workflow's only");
  const [show, ship] = job.steps;
  assert.equal(show!.secrets, undefined);
  assert.deepEqual(ship!.secrets, { TOKEN });
  const { steps: _steps, ...rest } = job;
  assert.ok(!JSON.stringify(rest).includes(TOKEN), "nothing job-wide carries prod's value");
  await claimer.done(job.jobId, { state: 'succeeded' });
});

test("a shell step next to a deploy to prod that never runs does not see prod's secrets; masking still covers them", async () => {
  const id = await publishWithSecret('peek-docker', 'env-secrets-docker');
  const run = await waitForRun(server, (await startRun(server, id)).id, finished);
  assert.equal(run.state, 'succeeded', JSON.stringify(run.steps));
  assert.equal(run.steps[1].state, 'skipped');
  const log = await rawLog(server, run.id, 'show');
  assert.match(log, /^token=unset shared=\*\*\*$/m, "the workflow secret is there (masked), prod's is not");
  assert.doesNotMatch(log, /^TOKEN=/m);
  assert.match(log, /^literal=\*\*\*$/m, "prod's values are still masked in the job's logs");
  assert.ok(!log.includes(TOKEN));
  const runView = JSON.stringify(await json(await server.call('GET', `/api/runs/${run.id}`)));
  assert.ok(!runView.includes(TOKEN));
});
