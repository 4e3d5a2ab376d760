// Runs step.shell_exec against the real Docker engine prepared by scripts/setup/docker.sh.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { MANAGED_LABEL, createDockerClient, describeDockerHost, imageExists, pingDocker } from '../../runners/docker/engine.ts';
import { DEFAULT_RUNNER_POLICY } from '../../runners/docker/policy.ts';
import { createWorkspaceVolume, removeWorkspaceVolume } from '../../runners/docker/workspace.ts';
import { runShellStep, type OutputStream, type ShellExecSpec, type StepOutcome } from '../../runners/docker/shell-exec.ts';

const BASE_IMAGE = 'flowyard/busybox:latest';
const LOCAL_REGISTRY = '127.0.0.1:5000';
const TEST_RUN_LABEL = 'flowyard.test-run';

const docker = createDockerClient();
const testRun = randomUUID();
let workspaceVolume = '';

interface Chunk {
  at: number;
  stream: OutputStream;
  text: string;
}

interface StepRun {
  outcome: StepOutcome;
  chunks: Chunk[];
  stdout: string;
  stderr: string;
}

before(async () => {
  if (!(await pingDocker(docker))) {
    assert.fail(`Docker engine not reachable at ${describeDockerHost()}: run "bash scripts/setup/docker.sh" first`);
  }
  assert.ok(await imageExists(docker, BASE_IMAGE), `image ${BASE_IMAGE} missing: run "bash scripts/setup/docker.sh" first`);
  workspaceVolume = await createWorkspaceVolume(docker, `test-${testRun}`, { [TEST_RUN_LABEL]: testRun });
});

after(async () => {
  if (workspaceVolume) await removeWorkspaceVolume(docker, workspaceVolume);
});

async function runStep(
  step: string,
  spec: Partial<ShellExecSpec> & Pick<ShellExecSpec, 'commands'>,
  onChunk?: (chunk: Chunk) => void,
  signal?: AbortSignal,
): Promise<StepRun> {
  const startedAt = performance.now();
  const chunks: Chunk[] = [];
  const outcome = await runShellStep(
    docker,
    {
      image: BASE_IMAGE,
      workspaceVolume,
      ...spec,
      labels: { 'flowyard.step': step, [TEST_RUN_LABEL]: testRun },
    },
    {
      onOutput(bytes, stream) {
        const chunk = { at: performance.now() - startedAt, stream, text: Buffer.from(bytes).toString('utf8') };
        chunks.push(chunk);
        onChunk?.(chunk);
      },
      ...(signal ? { signal } : {}),
    },
  );
  const joined = (stream: OutputStream) =>
    chunks
      .filter((chunk) => chunk.stream === stream)
      .map((chunk) => chunk.text)
      .join('');
  return { outcome, chunks, stdout: joined('stdout'), stderr: joined('stderr') };
}

async function containersOfStep(step: string): Promise<string[]> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`flowyard.step=${step}`, `${TEST_RUN_LABEL}=${testRun}`] },
  });
  return containers.map((container) => container.Id);
}

test('streams output live, echoes each command and keeps ANSI bytes and stderr apart', async () => {
  const run = await runStep('streaming', {
    commands: ['echo first', "printf '\\033[31mred\\033[0m\\n'", 'echo oops >&2', 'sleep 2', 'echo last'],
  });
  assert.equal(run.outcome.status, 'succeeded', run.outcome.error);
  assert.equal(run.outcome.exitCode, 0);

  const first = run.chunks.find((chunk) => chunk.text.includes('first\n'));
  const last = run.chunks.find((chunk) => chunk.text.includes('last\n'));
  assert.ok(first && last, `missing output: ${JSON.stringify(run.chunks)}`);
  assert.ok(last.at - first.at >= 1500, `first chunk came ${first.at} ms in, last at ${last.at} ms: output was not streamed live`);

  assert.match(run.stdout, /\x1b\[32;1m\$ echo first\x1b\[0m\nfirst\n/);
  assert.ok(run.stdout.includes('\x1b[31mred\x1b[0m\n'), 'ANSI colour bytes must pass through untouched');
  assert.equal(run.stderr, 'oops\n');
});

test('stops at the first failing command and reports its exit code', async () => {
  const run = await runStep('first-failure', { commands: ['echo one', 'sh -c "exit 7"', 'echo never'] });
  assert.equal(run.outcome.status, 'failed');
  assert.equal(run.outcome.exitCode, 7);
  assert.ok(run.stdout.includes('one\n'));
  assert.ok(!run.stdout.includes('never'), `ran past the failure: ${run.stdout}`);
});

test('passes environment variables', async () => {
  const run = await runStep('env', {
    commands: ['echo "$GREETING|$QUOTED"'],
    env: { GREETING: 'hello world', QUOTED: `it's "quoted"` },
  });
  assert.equal(run.outcome.status, 'succeeded', run.outcome.error);
  assert.ok(run.stdout.includes(`hello world|it's "quoted"\n`), run.stdout);
});

test('the workspace volume persists between steps of a job', async () => {
  const write = await runStep('workspace-write', { commands: ['pwd', 'mkdir -p dist && echo built > dist/out.txt'] });
  assert.equal(write.outcome.status, 'succeeded', write.outcome.error);
  assert.ok(write.stdout.includes('/workspace\n'));

  const read = await runStep('workspace-read', { commands: ['cat /workspace/dist/out.txt'], workDir: '/tmp' });
  assert.equal(read.outcome.status, 'succeeded', read.outcome.error);
  assert.ok(read.stdout.includes('built\n'), read.stdout);
});

test('has no network by default, and the host network only when asked on a runner that allows it', async () => {
  // busybox-static's wget crashes in this sandbox; a raw HTTP request through nc does the same job.
  const requestRegistry = `printf 'GET /v2/ HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${LOCAL_REGISTRY.replace(':', ' ')}`;
  const isolated = await runStep('network-none', {
    commands: ["sed -n '3,$p' /proc/net/dev | cut -d: -f1 | tr -d ' '", `if ${requestRegistry}; then exit 1; fi`],
  });
  assert.equal(isolated.outcome.status, 'succeeded', `${isolated.outcome.error ?? ''} ${isolated.stdout}`);
  assert.match(isolated.stdout, /\x1b\[0m\nlo\n\x1b\[32;1m\$ if/, 'only the loopback interface should exist');

  const refused = await runStep('network-host-refused', { networkMode: 'host', commands: [`${requestRegistry} | head -n 1`] });
  assert.equal(refused.outcome.status, 'failed');
  assert.equal(refused.outcome.error, 'network_mode host is not allowed on this runner; its admin can start it with --allow-host-network');
  assert.equal(refused.stdout, '');

  const allowed = { ...DEFAULT_RUNNER_POLICY, allowHostNetwork: true };
  const host = await runStep('network-host', { networkMode: 'host', policy: allowed, commands: [`${requestRegistry} | head -n 1`] });
  assert.equal(host.outcome.status, 'succeeded', host.outcome.error);
  assert.ok(host.stdout.includes('HTTP/1.0 200 OK'), `host network should reach the local registry: ${host.stdout}`);
});

test('applies memory and cpu limits', async () => {
  const run = await runStep('limits', {
    memoryBytes: 64 * 1024 * 1024,
    nanoCpus: 500_000_000,
    commands: [
      'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
      'cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us',
    ],
  });
  assert.equal(run.outcome.status, 'succeeded', run.outcome.error);
  assert.ok(run.stdout.includes(`${64 * 1024 * 1024}\n`), run.stdout);
  assert.match(run.stdout, /\n50000( 100000)?\n/);
});

test('runs unprivileged with a minimal capability set that still allows chown in the workspace', async () => {
  const run = await runStep('hardening', {
    commands: ['grep -E "^(CapEff|NoNewPrivs)" /proc/self/status', 'touch owned && chown nobody owned && ls -n owned', 'test ! -e /var/run/docker.sock'],
  });
  assert.equal(run.outcome.status, 'succeeded', `${run.outcome.error ?? ''} ${run.stdout} ${run.stderr}`);
  // CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETGID, SETUID
  assert.match(run.stdout, /CapEff:\s+00000000000000db\n/);
  assert.match(run.stdout, /NoNewPrivs:\s+1\n/);
  assert.match(run.stdout, /65534/);
});

test('a step over its timeout is stopped, reported timed_out and removed', async () => {
  const run = await runStep('timeout', { commands: ['echo started', 'sleep 30'], timeoutMs: 1000 });
  assert.equal(run.outcome.status, 'timed_out');
  assert.equal(run.outcome.exitCode, null);
  assert.ok(run.outcome.durationMs < 6000, `took ${run.outcome.durationMs} ms`);
  assert.ok(run.stdout.includes('started\n'));
  assert.deepEqual(await containersOfStep('timeout'), []);
});

test('cancel reaches the container within 5 s, reports cancelled and removes it', async () => {
  const controller = new AbortController();
  let abortedAt = 0;
  const run = await runStep(
    'cancel',
    { commands: ['trap "echo got SIGTERM; exit 143" TERM', 'echo waiting', 'sleep 30 & wait $!'] },
    (chunk) => {
      if (chunk.text.includes('waiting\n') && !abortedAt) {
        abortedAt = chunk.at;
        controller.abort();
      }
    },
    controller.signal,
  );
  assert.ok(abortedAt > 0, 'the step never printed "waiting"');
  assert.equal(run.outcome.status, 'cancelled');
  assert.ok(run.outcome.durationMs - abortedAt < 5000, `stopped ${run.outcome.durationMs - abortedAt} ms after cancel`);
  assert.ok(run.stdout.includes('got SIGTERM\n'), 'the shell in the container should have received SIGTERM');
  assert.deepEqual(await containersOfStep('cancel'), []);
});

test('an output handler that throws fails the step and removes its container', async () => {
  const run = await runStep('output-handler', { commands: ['echo boom', 'sleep 30'] }, () => {
    throw new Error('log sink full');
  });
  assert.equal(run.outcome.status, 'failed');
  assert.equal(run.outcome.error, 'output handler failed: log sink full');
  // Well under the 30 s the command would sleep: the failure stopped the step, also on a loaded machine.
  assert.ok(run.outcome.durationMs < 20_000, `took ${run.outcome.durationMs} ms`);
  assert.deepEqual(await containersOfStep('output-handler'), []);
});

test('a step cancelled before it starts creates no container', async () => {
  const run = await runStep('cancel-early', { commands: ['echo never'] }, undefined, AbortSignal.abort());
  assert.equal(run.outcome.status, 'cancelled');
  assert.equal(run.chunks.length, 0);
});

test('a missing image fails with a clear error', async () => {
  const missing = `${LOCAL_REGISTRY}/flowyard/missing:latest`;
  const never = await runStep('missing-never', { image: missing, pullPolicy: 'never', commands: ['true'] });
  assert.equal(never.outcome.status, 'failed');
  assert.equal(never.outcome.error, `image "${missing}" not present and pull_policy is never`);

  const pulled = await runStep('missing-pull', { image: missing, commands: ['true'] });
  assert.equal(pulled.outcome.status, 'failed');
  assert.match(pulled.outcome.error ?? '', /^image "127\.0\.0\.1:5000\/flowyard\/missing:latest" not found locally and pull failed: .+/);
});

test('pulls an image that is only in the registry', async () => {
  const remote = `${LOCAL_REGISTRY}/flowyard/busybox:pull-test-${testRun.slice(0, 8)}`;
  const tagAt = remote.lastIndexOf(':');
  try {
    await docker.getImage(BASE_IMAGE).tag({ repo: remote.slice(0, tagAt), tag: remote.slice(tagAt + 1) });
    const push = await docker.getImage(remote).push({ authconfig: { serveraddress: LOCAL_REGISTRY } });
    const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
      docker.modem.followProgress(push, (error, output) => (error ? reject(error) : resolve(output))),
    );
    assert.deepEqual(
      events.filter((event) => event.error),
      [],
      'push to the local registry failed',
    );
    await docker.getImage(remote).remove();

    const run = await runStep('pull', { image: remote, commands: ['echo pulled'] });
    assert.equal(run.outcome.status, 'succeeded', run.outcome.error);
    assert.ok(run.stdout.includes('pulled\n'));
  } finally {
    if (await imageExists(docker, remote)) await docker.getImage(remote).remove();
  }
});

test('leaves no flowyard container behind', async () => {
  const leftovers = await docker.listContainers({
    all: true,
    filters: { label: [`${MANAGED_LABEL}=true`, `${TEST_RUN_LABEL}=${testRun}`] },
  });
  assert.deepEqual(
    leftovers.map((container) => `${container.Id.slice(0, 12)} ${container.Labels['flowyard.step']}`),
    [],
  );
});
