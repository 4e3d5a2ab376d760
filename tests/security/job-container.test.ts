// Attacks on the job container that consecutive shell steps share (runners/docker/job-container.ts): a step
// leaves processes behind to watch or tamper with the next one, or to read its environment; and the exec'd step's
// sandbox must be the one a step container of its own gets.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requireEngine } from '../helpers/isolation.ts';
import { cleanUpJobs, containersLeft, runJob, shell } from '../helpers/job-container.ts';

before(requireEngine);
after(cleanUpJobs);

test('an exec step runs in the same sandbox as a step container of its own', async () => {
  const probe =
    'grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status; id; ls /sys/class/net; grep " /workspace " /proc/self/mountinfo | cut -d" " -f5,6; ls -l /var/run/docker.sock 2>&1 | cut -d: -f2-';
  const shared = await runJob([shell({ commands: ['true'] }), shell({ commands: [probe] })]);
  assert.equal(await shared.created(), 1);
  const alone = await runJob([shell({ commands: [probe] })]);
  const body = (log: string) => log.split('\n').filter((line) => !line.includes('$ '));
  assert.deepEqual(body(shared.log(1)), body(alone.log(0)));
  assert.match(shared.log(1), /NoNewPrivs:\s+1/);
  assert.match(shared.log(1), /^lo$/m, 'no network but loopback');
  assert.doesNotMatch(shared.log(1), /^eth/m);
  assert.match(shared.log(1), /No such file or directory/, 'no docker socket');
});

test("a step's background processes are killed when it ends; the next step sees neither them nor their environment", async () => {
  const job = await runJob(
    [
      shell({
        env: { STEP_ONE_TOKEN: 'tok-step-one-1234' },
        commands: [
          'sleep 300 &',
          'setsid sh -c "sleep 301" &',
          'touch ticks; (trap "" HUP TERM; while :; do date >> /workspace/ticks; sleep 0.1; done) >/dev/null 2>&1 &',
          'sh -c "sleep 302 &" &',
          'sleep 0.5; echo "ticking: $(wc -l < ticks)"',
        ],
      }),
      shell({
        commands: [
          'echo "own token: ${STEP_ONE_TOKEN:-none} ${API_KEY:+has-api-key}"',
          'before=$(wc -l < /workspace/ticks); sleep 0.5; after=$(wc -l < /workspace/ticks); echo "ticks grew: $((after - before))"',
          'echo "sleepers: $(ps -o args | grep -c "^sleep 30")"',
          'echo "leaked: $(cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c tok-step-one)"',
        ],
      }),
    ],
    { secrets: { API_KEY: 'api-key-value-5678' } },
  );
  assert.equal(job.result.state, 'succeeded', `${JSON.stringify(job.result)}\n${job.log(0)}\n${job.log(1)}`);
  assert.equal(await job.created(), 1, 'leftovers of the same user are killed in place: the container is reused');
  assert.match(job.log(0), /ticking: [1-9]/, 'the leftover was running when the step ended');
  const second = job.log(1);
  assert.match(second, /own token: none has-api-key/);
  assert.match(second, /ticks grew: 0/);
  assert.match(second, /sleepers: 0/);
  assert.match(second, /leaked: 0/);
});

test('a leftover the step cannot kill (another user) makes the runner give the container up; the next step gets a fresh one', async () => {
  const started = Date.now();
  const job = await runJob([
    shell({
      env: { STEP_ONE_TOKEN: 'tok-step-one-9876' },
      // Root without CAP_KILL cannot signal another user's process: not even the runner's kill exec can end it.
      commands: ['chmod 755 /', 'su -s /bin/sh nobody -c "sleep 303" &', 'sleep 0.3; echo "left $(ps -o user,args | grep -c "^nobody *sleep 303")"'],
    }),
    shell({
      commands: [
        'echo "sleepers: $(ps -o args | grep -c "^sleep 303")"',
        'echo "leaked: $(cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c tok-step-one)"',
      ],
    }),
  ]);
  assert.equal(job.result.state, 'succeeded', `${JSON.stringify(job.result)}\n${job.log(0)}\n${job.log(1)}`);
  assert.equal(job.reports.get(0)?.exitCode, 0);
  assert.match(job.log(0), /left 1/);
  assert.equal(await job.created(), 2, job.log(0) + job.log(1));
  assert.match(job.log(1), /sleepers: 0/);
  assert.match(job.log(1), /leaked: 0/);
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  assert.equal(await containersLeft(job.runId), 0);
});
