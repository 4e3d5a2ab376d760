// A hostile workflow author (editor rights) tries to reach the build host from a step: its loopback
// services through the host network, other Docker engines through a deploy target's docker_host, the host
// through RUN instructions of a build. Each attack runs as a real job on the real engine, once on a runner
// with the default policy (refused, nothing reaches the listener) and once on a runner whose admin allowed
// it (it works, which shows the probe itself would notice a leak).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DEFAULT_RUNNER_POLICY } from '../../runners/docker/policy.ts';
import { runNetworkName } from '../../runners/docker/run-network.ts';
import { BASE_IMAGE, docker, loopbackHttpServer, loopbackTcpListener, removeRunLeftovers, requireEngine, runJob, steps } from '../helpers/isolation.ts';

const nonce = randomUUID().slice(0, 8);
const runIds: string[] = [];
const newRunId = () => {
  const id = `iso-${nonce}-${runIds.length}`;
  runIds.push(id);
  return id;
};
const HOST_NETWORK_REFUSED = 'network_mode host is not allowed on this runner; its admin can start it with --allow-host-network';
let http: Awaited<ReturnType<typeof loopbackHttpServer>>;
let tcp: Awaited<ReturnType<typeof loopbackTcpListener>>;

/** A shell line that sends one HTTP request to the test server on the host's loopback and prints the answer. */
const request = (path: string) => `printf 'GET /${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 ${http.port}`;
const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

before(async () => {
  await requireEngine();
  http = await loopbackHttpServer();
  tcp = await loopbackTcpListener();
});

after(async () => {
  await http?.close();
  await tcp?.close();
  await removeRunLeftovers(runIds);
});

test('shell_exec with network_mode host is refused and reaches no loopback service of the host', async () => {
  const path = `shell-${nonce}`;
  const job = steps(['step.shell_exec', { image: BASE_IMAGE, network_mode: 'host', commands: [request(path)] }]);
  const refused = await runJob({ runId: newRunId(), steps: job });
  await settle();
  assert.equal(refused.result.state, 'failed');
  assert.equal(refused.reports.get(0)?.error, HOST_NETWORK_REFUSED);
  assert.deepEqual(http.requests, [], 'the step reached the host loopback server');

  const allowed = await runJob({ runId: newRunId(), steps: job }, { policy: { ...DEFAULT_RUNNER_POLICY, allowHostNetwork: true } });
  assert.equal(allowed.result.state, 'succeeded', allowed.result.error);
  assert.match(allowed.log(0), /host secret/);
  assert.deepEqual(http.requests, [`GET /${path}`]);
  http.requests.length = 0;
});

test('docker_run with network_mode host is refused and reaches no loopback service of the host', async () => {
  const path = `run-${nonce}`;
  const job = steps(['step.docker_run', { image: BASE_IMAGE, network_mode: 'host', command: ['sh', '-c', request(path)] }]);
  const refused = await runJob({ runId: newRunId(), steps: job });
  await settle();
  assert.equal(refused.result.state, 'failed');
  assert.equal(refused.reports.get(0)?.error, HOST_NETWORK_REFUSED);
  assert.deepEqual(http.requests, []);

  const allowed = await runJob({ runId: newRunId(), steps: job }, { policy: { ...DEFAULT_RUNNER_POLICY, allowHostNetwork: true } });
  assert.equal(allowed.result.state, 'succeeded', allowed.result.error);
  assert.deepEqual(http.requests, [`GET /${path}`]);
  http.requests.length = 0;
});

test("network_mode bridge is the run's own internal network, not the engine's shared bridge", async () => {
  const runId = newRunId();
  const result = await runJob({
    runId,
    steps: steps(
      ['step.docker_run', { image: BASE_IMAGE, network_mode: 'bridge', wait_for_exit: false, command: ['sleep', '300'] }],
      ['step.shell_exec', { image: BASE_IMAGE, network_mode: 'bridge', commands: [`if ${request(`bridge-${nonce}`)}; then exit 1; fi`] }],
    ),
  });
  await settle();
  assert.equal(result.result.state, 'succeeded', result.result.error);
  assert.deepEqual(http.requests, [], 'a bridge step reached the host loopback server');
  const service = await docker.getContainer(String(result.reports.get(0)?.outputs?.container_id)).inspect();
  assert.deepEqual(Object.keys(service.NetworkSettings.Networks), [runNetworkName(runId)]);
  const network = await docker.getNetwork(runNetworkName(runId)).inspect();
  assert.equal(network.Internal, true, 'without --allow-egress the run network has no route out');
  assert.equal(network.Labels?.['flowyard.run'], runId);
});

test('a deploy target cannot point the runner at another Docker engine unless the admin allows that engine', async () => {
  const dockerHost = `tcp://127.0.0.1:${tcp.port}`;
  const job = {
    modules: { elsewhere: { type: 'deploy.target', config: { provider: 'docker', docker_host: dockerHost } } },
    steps: steps(['step.deploy', { environment: 'isolation', target: 'elsewhere', image: BASE_IMAGE }]),
  };
  const refused = await runJob({ runId: newRunId(), ...job });
  await settle();
  assert.equal(refused.result.state, 'failed');
  assert.equal(
    refused.reports.get(0)?.error,
    `docker_host ${dockerHost} is not allowed on this runner; its admin can start it with --allow-docker-host ${dockerHost}`,
  );
  assert.equal(tcp.received().length, 0, `the runner sent ${tcp.received().length} bytes to ${dockerHost}`);

  const allowed = await runJob({ runId: newRunId(), ...job }, { policy: { ...DEFAULT_RUNNER_POLICY, allowDockerHosts: [dockerHost] } });
  assert.equal(allowed.result.state, 'failed', 'the listener is no Docker engine');
  assert.match(tcp.received().toString('latin1'), /^(GET|POST|HEAD) \/\S* HTTP\/1\.1\r\n/, 'with the flag the runner talks to that engine');
});

/** A build whose RUN instructions print the network interfaces and try the host's loopback server. */
function probingBuild(path: string, networkMode?: string) {
  const dockerfile = [
    `FROM ${BASE_IMAGE}`,
    `RUN echo "probe ${path}: interfaces $(sed -n '3,$p' /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')"`,
    `RUN if printf 'GET /${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 ${http.port}; then echo reached; else echo unreachable; fi`,
  ].join('\n');
  return steps(
    ['step.shell_exec', { image: BASE_IMAGE, commands: ['mkdir -p app', `cat > app/Dockerfile <<'DOCKERFILE'\n${dockerfile}\nDOCKERFILE`] }],
    ['step.docker_build', { context: 'app', tags: [`isolation-probe:${path}`], ...(networkMode ? { network_mode: networkMode } : {}) }],
  );
}

test('RUN instructions of a build have no network: only the loopback interface, the host unreachable', async () => {
  const path = `build-${nonce}`;
  const built = await runJob({ runId: newRunId(), steps: probingBuild(path) });
  await settle();
  assert.equal(built.result.state, 'succeeded', `${built.result.error}\n${built.log(1)}`);
  assert.match(built.log(1), new RegExp(`probe ${path}: interfaces lo \\n`), built.log(1));
  assert.match(built.log(1), /unreachable/);
  assert.deepEqual(http.requests, []);
});

test('a build with network_mode bridge gets a network interface yet cannot reach the host loopback', async () => {
  const path = `build-bridge-${nonce}`;
  const built = await runJob({ runId: newRunId(), steps: probingBuild(path, 'bridge') });
  await settle();
  assert.equal(built.result.state, 'succeeded', `${built.result.error}\n${built.log(1)}`);
  assert.match(built.log(1), new RegExp(`probe ${path}: interfaces lo eth0 \\n`), built.log(1));
  assert.match(built.log(1), /unreachable/);
  assert.deepEqual(http.requests, []);
});

test('a build on the host network is refused unless the runner allows the host network', async () => {
  const path = `build-host-${nonce}`;
  const refused = await runJob({ runId: newRunId(), steps: probingBuild(path, 'host') });
  await settle();
  assert.equal(refused.result.state, 'failed');
  assert.equal(refused.reports.get(1)?.error, HOST_NETWORK_REFUSED);
  assert.deepEqual(http.requests, []);

  const allowed = await runJob({ runId: newRunId(), steps: probingBuild(path, 'host') }, { policy: { ...DEFAULT_RUNNER_POLICY, allowHostNetwork: true } });
  assert.equal(allowed.result.state, 'succeeded', `${allowed.result.error}\n${allowed.log(1)}`);
  assert.deepEqual(http.requests, [`GET /${path}`]);
  http.requests.length = 0;
});
