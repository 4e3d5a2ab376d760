// A queued job wakes one waiting claim whose runner has its labels, not every long-polling runner.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { claimWaitersFor } from '../../server/services/claim-waiters.ts';
import { json, publishWorkflow, startRun } from '../helpers/runs.ts';
import { protocolRunner, type ProtocolRunner } from '../helpers/protocol-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

const workflow = (name: string, labels: string[]) => `name: ${name}
pipelines:
  main:
    runs_on: [${labels.join(', ')}]
    steps:
      - name: work
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["true"] }
`;

const registry = () => claimWaitersFor(server.database.db, server.events);

async function until(condition: () => boolean, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Long-polls a claim; resolves to the runner's name and the job's run, or null when the wait ended empty. */
function longPoll(runner: ProtocolRunner, name: string, waitSeconds: number) {
  return runner.call('POST', '/claim', { waitSeconds }).then(async (response) => {
    if (response.status === 204) return null;
    assert.equal(response.status, 200, await response.clone().text());
    return { name, runId: ((await json(response)) as { job: { runId: string } }).job.runId };
  });
}

/** Starts every runner's long-poll and resolves once all of them wait in the registry. */
async function waiting(runners: [string, ProtocolRunner][], waitSeconds: number) {
  const before = registry().waiting;
  const polls = runners.map(([name, runner]) => ({ name, answer: longPoll(runner, name, waitSeconds) }));
  await until(() => registry().waiting === before + runners.length, `${runners.length} waiting claims`);
  return polls;
}

test('one job wakes exactly one of five waiting runners with its labels; the other four keep waiting', async () => {
  const runners: [string, ProtocolRunner][] = [];
  for (let i = 0; i < 5; i++) runners.push([`many-${i}`, await protocolRunner(server, `many-${i}`, ['wake-many'])]);
  const workflowId = await publishWorkflow(server, 'wake-many', workflow('wake-many', ['wake-many']));
  const polls = await waiting(runners, 3);
  const wakesBefore = registry().wakes;

  const run = await startRun(server, workflowId);
  const winner = await Promise.race(polls.map((p) => p.answer));
  assert.equal(winner?.runId, run.id, 'a waiting runner took the job at once');
  await until(() => registry().waiting === 4, 'the four others back in the registry');
  assert.equal(registry().wakes - wakesBefore, 1, 'one wake for one job');

  const answers = await Promise.all(polls.map((p) => p.answer));
  assert.equal(answers.filter((a) => a !== null).length, 1, 'the four others ended their wait empty');
  assert.equal(registry().wakes - wakesBefore, 1, 'and were never woken');
});

test('a job whose labels only one of three waiters has goes to that waiter, and only it is woken', async () => {
  const plain1 = await protocolRunner(server, 'plain-1', ['wake-linux']);
  const gpu = await protocolRunner(server, 'gpu', ['wake-linux', 'wake-gpu']);
  const plain2 = await protocolRunner(server, 'plain-2', ['wake-linux']);
  const workflowId = await publishWorkflow(server, 'wake-gpu', workflow('wake-gpu', ['wake-gpu']));
  const polls = await waiting(
    [
      ['plain-1', plain1],
      ['gpu', gpu],
      ['plain-2', plain2],
    ],
    2,
  );
  const wakesBefore = registry().wakes;

  const run = await startRun(server, workflowId);
  const answers = await Promise.all(polls.map((p) => p.answer));
  assert.deepEqual(answers, [null, { name: 'gpu', runId: run.id }, null]);
  assert.equal(registry().wakes - wakesBefore, 1);
});

test('a woken runner that cannot take the job (at capacity) passes it to the next matching waiter', async () => {
  const busy = await protocolRunner(server, 'busy', ['wake-pass']);
  const free = await protocolRunner(server, 'free', ['wake-pass']);
  const workflowId = await publishWorkflow(server, 'wake-pass', workflow('wake-pass', ['wake-pass']));
  const held = await startRun(server, workflowId);
  assert.equal((await busy.claim())?.runId, held.id, 'busy holds a job: its capacity of 1 is used');
  // busy waits first, so the next job is offered to it first.
  const polls = await waiting(
    [
      ['busy', busy],
      ['free', free],
    ],
    2,
  );
  const wakesBefore = registry().wakes;

  const run = await startRun(server, workflowId);
  const taken = await polls[1]!.answer;
  assert.deepEqual(taken, { name: 'free', runId: run.id });
  assert.equal(registry().wakes - wakesBefore, 2, 'busy was woken, then free');
  assert.equal(await polls[0]!.answer, null, 'busy went back to waiting and ended empty');
});
