// Consecutive shell steps share one job container (runners/docker/job-container.ts): reuse, separation by
// image and settings, outputs, exit codes, masking, timeout and cancel, on the real engine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { BASE_IMAGE, docker, requireEngine } from '../helpers/isolation.ts';
import { cleanUpJobs, containersLeft, isOurRun, runJob, shell } from '../helpers/job-container.ts';

const OTHER_IMAGE = `flowyard-test/job-container-other:${randomUUID().slice(0, 8)}`;

before(async () => {
  await requireEngine();
  // Another image ID without running a container: a label on top of busybox.
  const build = spawnSync('docker', ['build', '-q', '-t', OTHER_IMAGE, '-'], { input: `FROM ${BASE_IMAGE}\nLABEL flowyard.test=other\n` });
  assert.equal(build.status, 0, build.stderr.toString());
});

after(async () => {
  await cleanUpJobs();
  await docker
    .getImage(OTHER_IMAGE)
    .remove({ force: true })
    .catch(() => undefined);
});

test('ten shell steps in one image run in one container over the shared workspace, each with its output and exit code', async () => {
  const steps = Array.from({ length: 10 }, (_, i) => shell({ commands: [`echo step ${i} >> list.txt`, `echo "hostname $(hostname)"`] }));
  steps.push(shell({ commands: ['cat list.txt | wc -l', 'exit 7'], continueOnError: true }));
  steps.push(shell({ commands: ['echo still here'] }));
  const job = await runJob(steps);
  assert.equal(job.result.state, 'succeeded', `${JSON.stringify(job.result)}\n${job.log(0)}\n${job.log(1)}`);
  assert.equal(await job.created(), 1, 'one container for all consecutive steps');
  const hostnames = new Set(Array.from({ length: 10 }, (_, i) => /hostname (\S+)/.exec(job.log(i))?.[1]));
  assert.equal(hostnames.size, 1);
  for (let i = 0; i < 10; i++) {
    assert.equal(job.reports.get(i)?.state, 'succeeded');
    assert.deepEqual(job.reports.get(i)?.outputs, { exit_code: 0, artifacts: [] });
  }
  assert.match(job.log(10), /^10$/m, 'every step wrote to the same workspace');
  assert.equal(job.reports.get(10)?.state, 'failed');
  assert.equal(job.reports.get(10)?.exitCode, 7);
  assert.deepEqual(job.reports.get(10)?.outputs, { exit_code: 7 });
  assert.match(job.log(11), /still here/);
  assert.equal(await containersLeft(job.runId), 0, 'the job container is removed with the job');
});

test('a step with another image or other settings gets its own container; a non-container step between does not break sharing', async () => {
  const job = await runJob([
    shell({ commands: ['echo a'] }),
    { index: 0, name: 'note', type: 'step.log', config: { level: 'info', message: 'between' }, timeoutMs: null, continueOnError: false },
    shell({ commands: ['echo a again'] }),
    shell({ commands: ['cat /proc/self/cgroup >/dev/null; echo limited'], memory_limit: '256m' }),
    shell({ commands: ['echo other image'], image: OTHER_IMAGE }),
    shell({ commands: ['echo back to a'] }),
  ]);
  assert.equal(job.result.state, 'succeeded', `${JSON.stringify(job.result)}\n${job.log(0)}\n${job.log(1)}`);
  // a + a again share; 256m, the other image and "back to a" (not consecutive with the first) each get one.
  assert.equal(await job.created(), 4);
  assert.equal(await containersLeft(job.runId), 0);
});

test('secrets are masked in the logs and reports of exec steps', async () => {
  const job = await runJob([shell({ commands: ['echo first $API_KEY'] }), shell({ commands: ['echo second $API_KEY', 'echo "$API_KEY" >&2', 'exit 3'] })], {
    secrets: { API_KEY: 'masked-secret-4242' },
  });
  assert.equal(job.result.state, 'failed');
  assert.equal(await job.created(), 1);
  for (const index of [0, 1]) assert.ok(!job.log(index).includes('masked-secret-4242'), job.log(index));
  assert.match(job.log(0), /first \*\*\*/);
  assert.match(job.log(1), /second \*\*\*/);
  assert.equal(job.reports.get(1)?.exitCode, 3);
  assert.ok(!JSON.stringify([...job.reports.values(), job.result]).includes('masked-secret-4242'));
});

test('a step timeout ends the exec as timed_out; the container stays usable for the next step', async () => {
  const started = Date.now();
  const job = await runJob([
    shell({ commands: ['echo warm'] }),
    shell({ commands: ['echo sleeping', 'sleep 60 & wait'], timeoutMs: 1500, continueOnError: true }),
    shell({ commands: ['echo "sleepers: $(ps -o args | grep -c "^sleep 60")"'] }),
  ]);
  const elapsed = Date.now() - started;
  assert.equal(job.result.state, 'succeeded', `${JSON.stringify(job.result)}\n${job.log(0)}\n${job.log(1)}`);
  assert.equal(job.reports.get(1)?.state, 'timed_out');
  assert.equal(job.reports.get(1)?.exitCode, null);
  assert.match(job.reports.get(1)?.error ?? '', /timed out after 1500 ms/);
  assert.match(job.log(1), /sleeping/);
  assert.match(job.log(2), /sleepers: 0/);
  assert.equal(await job.created(), 1);
  assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
});

test('cancel ends a running exec step within 5 s, even one that ignores SIGTERM, and removes the container', async () => {
  const controller = new AbortController();
  let abortedAt = 0;
  const running = runJob(
    [
      shell({ commands: ['echo warm'] }),
      shell({ commands: ["trap '' TERM", 'echo waiting', 'sleep 60', 'echo never'] }),
      shell({ commands: ['echo never either'] }),
    ],
    { signal: controller.signal },
  );
  // Abort once the second step has printed, i.e. runs in its exec.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const list = await docker.listContainers({ filters: { label: ['flowyard.job-container=true'] } });
    const ours = list.find((c) => isOurRun(c.Labels['flowyard.run']));
    if (!ours) continue;
    const top = (await docker.getContainer(ours.Id).top({ ps_args: '-o pid,args' })) as { Processes: string[][] };
    if (top.Processes.some((row) => row[1]?.startsWith('sleep 60'))) break;
  }
  abortedAt = Date.now();
  controller.abort('cancelled');
  const job = await running;
  assert.equal(job.result.state, 'cancelled', JSON.stringify(job.result));
  assert.equal(job.reports.get(1)?.state, 'cancelled');
  assert.match(job.log(1), /waiting/);
  assert.doesNotMatch(job.log(1), /never/);
  assert.ok(job.finishedMs - abortedAt < 5000, `cancel took ${job.finishedMs - abortedAt} ms`);
  assert.equal(await containersLeft(job.runId), 0);
});
