import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startReplicas, type ReplicaSet, type RunnerProcess } from '../helpers/replicas.ts';
import { followLog } from './sse-viewer.ts';

/**
 * The fault drill: kill -9 one of three replicas while a Docker step prints its log. The runner daemon and the
 * SSE viewers talk to nginx; their requests that were on the dead replica fail and are made again to the
 * others (the viewers resume with Last-Event-ID). The run completes, every line is there exactly once.
 */
let set: ReplicaSet;
let runner: RunnerProcess;
const LINES = 60;

before(async () => {
  set = await startReplicas();
  runner = await set.startRunner({ name: 'drill', labels: ['drill'], capacity: 1 });
});
after(async () => {
  await runner?.stop();
  await set?.close();
});

const expected = Array.from({ length: LINES }, (_, i) => `line ${i + 1}`);
const linesOf = (text: string) => text.split('\n').filter((line) => line.startsWith('line '));

async function json<T>(response: Promise<Response>): Promise<T> {
  const answer = await response;
  assert.ok(answer.ok, `${answer.url}: ${answer.status} ${await answer.clone().text()}`);
  return (await answer.json()) as T;
}

test('kill -9 of a replica mid-run: the run completes and every log line arrives exactly once', async (t) => {
  const started = Date.now();
  const mark = (what: string) => t.diagnostic(`${what} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const yaml = `name: drill
pipelines:
  p:
    runs_on: [drill]
    steps:
      - name: count
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands: ["i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo line $i; sleep 0.1; done"]
`;
  const { id } = await json<{ id: string }>(set.call('POST', '/api/workflows', { name: 'drill', yaml }));
  await json(set.call('POST', `/api/workflows/${id}/publish`));
  const { id: runId } = await json<{ id: string }>(set.call('POST', `/api/workflows/${id}/runs`, {}));
  const victim = set.replicas[1]!;
  let received = 0;
  let killed: () => void = () => undefined;
  const killedOnce = new Promise<void>((resolve) => (killed = resolve));
  const onChunk = () => {
    // Kill once the step is well under way: about a sixth of its lines have reached a viewer.
    if (++received === 10) {
      mark('10 chunks seen; killing replica 1');
      void victim.crash().then(killed);
    }
  };
  // Two viewers start on the replica that is killed, two on whichever nginx picks; all reconnect through nginx.
  const viewers = [
    followLog(set.url, runId, 'count', { firstBase: victim.url, onChunk, timeoutMs: 50_000 }),
    followLog(set.url, runId, 'count', { firstBase: victim.url, timeoutMs: 50_000 }),
    followLog(set.url, runId, 'count', { timeoutMs: 50_000 }),
    followLog(set.url, runId, 'count', { timeoutMs: 50_000 }),
  ];
  mark('run created');
  const results = await Promise.all(viewers);
  mark('every viewer saw the end');
  await killedOnce;
  mark('replica 1 gone');
  assert.notEqual(victim.child.signalCode, null, 'the replica was killed');
  for (const [index, result] of results.entries()) {
    assert.equal(result.end.state, 'succeeded', `viewer ${index}: ${runner.output()}`);
    assert.deepEqual(linesOf(result.chunks.map((chunk) => chunk.text).join('')), expected, `viewer ${index} got every line once`);
    const seqs = result.chunks.map((chunk) => chunk.seq);
    assert.equal(new Set(seqs).size, seqs.length, `viewer ${index} got no chunk twice`);
  }
  assert.ok(results[0]!.connections > 1 && results[1]!.connections > 1, 'the viewers on the killed replica reconnected');
  // What is stored: the whole log read back through the load balancer.
  mark('viewers checked');
  const stored = await set.call('GET', `/api/runs/${runId}/logs?step=count`);
  assert.equal(stored.status, 200);
  assert.deepEqual(linesOf(await stored.text()), expected);
  mark('stored log read');
  const run = await json<{ state: string }>(set.call('GET', `/api/runs/${runId}`));
  assert.equal(run.state, 'succeeded');
  mark('run read');
  // Through the surviving replicas: the test's own connection to the file can wait long on the lock state a killed writer left.
  const { runs } = await json<{ runs: { state: string }[] }>(set.call('GET', `/api/workflows/${id}/runs`));
  assert.deepEqual(
    runs.map((r) => r.state),
    ['succeeded'],
    'no run is left queued or running',
  );
  mark('runs listed');
});
