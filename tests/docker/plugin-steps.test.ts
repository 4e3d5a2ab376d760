// Plugin steps through the real job executor against the real Docker engine: the http-check container plugin
// (its image built from examples/plugins/http-check) checks a loopback server the test serves, and the kv remote
// plugin (its archive packed from examples/plugins/kv) is started by the runner over a Unix socket and over TCP.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { DEFAULT_RUNNER_POLICY } from '../../runners/docker/policy.ts';
import { executeJob, type JobReporter } from '../../runners/job/execute.ts';
import { PluginHost } from '../../runners/plugins/host.ts';
import type { JobResult, PluginStepRef, StepReport, StepSpec } from '../../runners/protocol/v1.ts';
import { buildExamplePlugins, type PackedPlugin } from '../../scripts/build-example-plugins.ts';
import { testJobSpec } from '../helpers/job-spec.ts';

const docker = createDockerClient();
const suffix = randomUUID().slice(0, 8);
const SECRET = `kv-secret-${suffix}`;
// What a runner process may hold in its environment; plugin processes must not inherit it.
const RUNNER_SECRET = `runner-token-${suffix}`;
process.env.FLOWYARD_RUNNER_TOKEN_FOR_TEST = RUNNER_SECRET;
let plugins: Record<'http-check' | 'kv', PackedPlugin>;
let dataDir = '';
let host: PluginHost;
const hostLog: string[] = [];
let web: Server;
let webPort = 0;
const webRequests: Array<{ path: string; agent: string }> = [];

before(async () => {
  plugins = await buildExamplePlugins(docker);
  dataDir = await mkdtemp(join(tmpdir(), 'plugin-steps-'));
  const archives = new Map(Object.values(plugins).map((p) => [p.manifest.name, p]));
  host = new PluginHost({
    dataDir,
    fetchArchive: async ({ name }) => {
      const plugin = archives.get(name)!;
      return { digest: plugin.digest, archiveBase64: plugin.archive.toString('base64') };
    },
    log: (line) => hostLog.push(line),
  });
  web = createServer((request, response) => {
    webRequests.push({ path: request.url ?? '', agent: request.headers['user-agent'] ?? '' });
    response.writeHead(request.url === '/down' ? 503 : 200, { 'content-type': 'text/plain' }).end('ok\n');
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webPort = (web.address() as { port: number }).port;
});

after(async () => {
  await host?.stop();
  await new Promise((resolve) => web?.close(resolve));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function ref(name: 'http-check' | 'kv', transport: 'unix' | 'tcp' = 'unix'): PluginStepRef {
  const plugin = plugins[name];
  const runtime = plugin.manifest.steps[0]!.runtime;
  return {
    name: plugin.manifest.name,
    version: plugin.manifest.version,
    digest: plugin.digest,
    runtime: runtime.kind === 'remote' ? { ...runtime, transport } : runtime,
  };
}

function step(index: number, name: string, plugin: PluginStepRef, config: Record<string, unknown>, extra: Partial<StepSpec> = {}): StepSpec {
  const type = plugin.name.endsWith('/kv') ? 'step.kv' : 'step.http_check';
  return { index, name, type, config, timeoutMs: null, continueOnError: false, plugin, ...extra };
}

interface Ran {
  result: JobResult;
  reports: Map<number, StepReport>;
  logs: Map<number, string>;
}

async function runJob(steps: StepSpec[], options: { signal?: AbortSignal; allowHostNetwork?: boolean } = {}): Promise<Ran> {
  const reports = new Map<number, StepReport>();
  const logs = new Map<number, string>();
  const reporter: JobReporter = {
    chunk: (index, _seq, text) => logs.set(index, (logs.get(index) ?? '') + text),
    step: (index, report) => reports.set(index, { ...reports.get(index), ...report }),
  };
  const runId = `plugins-${suffix}-${randomUUID().slice(0, 6)}`;
  const job = testJobSpec({ runId, workflow: 'plugin-test', pipeline: 'main', steps, secrets: { KV_TOKEN: SECRET, UNUSED: `unused-${suffix}` } });
  const result = await executeJob(job, {
    docker,
    reporter,
    artifacts: { upload: () => Promise.reject(new Error('no artifacts')), download: () => Promise.reject(new Error('no artifacts')) },
    signal: options.signal ?? new AbortController().signal,
    policy: { ...DEFAULT_RUNNER_POLICY, allowHostNetwork: options.allowHostNetwork ?? false },
    plugins: host,
  });
  return { result, reports, logs };
}

describe('the http-check container plugin', () => {
  test('checks a loopback server from the sandbox, with typed outputs, the request file and PLUGIN_ settings', async () => {
    const http = ref('http-check');
    const ran = await runJob(
      [
        step(0, 'up', http, { url: `http://127.0.0.1:${webPort}/health`, network_mode: 'host' }),
        step(1, 'down', http, { url: `http://127.0.0.1:${webPort}/down`, network_mode: 'host' }, { continueOnError: true }),
      ],
      { allowHostNetwork: true },
    );
    assert.equal(ran.result.state, 'succeeded', JSON.stringify(ran.result));
    const up = ran.reports.get(0)!;
    assert.equal(up.state, 'succeeded', up.error);
    assert.equal(up.exitCode, 0);
    assert.deepEqual(Object.keys(up.outputs!).sort(), ['latency_ms', 'ok', 'status']);
    assert.equal(up.outputs!.status, 200);
    assert.equal(up.outputs!.ok, true);
    assert.equal(typeof up.outputs!.latency_ms, 'number');
    assert.match(ran.logs.get(0)!, /http-check for step up\n/, 'the plugin read /flowyard/request.json');
    assert.match(ran.logs.get(0)!, new RegExp(`GET http://127.0.0.1:${webPort}/health: 200 in \\d+ ms`));
    assert.deepEqual(webRequests.slice(0, 2), [
      { path: '/health', agent: 'flowyard-http-check' },
      { path: '/down', agent: 'flowyard-http-check' },
    ]);

    const down = ran.reports.get(1)!;
    assert.equal(down.state, 'failed', 'a non-zero exit fails the step');
    assert.equal(down.exitCode, 1);
    assert.deepEqual({ status: down.outputs!.status, ok: down.outputs!.ok }, { status: 503, ok: false });
  });

  test('has the sandbox of step.shell_exec: no network by default, the host network only where the runner allows it', async () => {
    const http = ref('http-check');
    const isolated = await runJob([step(0, 'isolated', http, { url: `http://127.0.0.1:${webPort}/health`, timeout_seconds: 1 })]);
    assert.equal(isolated.reports.get(0)!.state, 'failed');
    assert.equal(isolated.reports.get(0)!.outputs!.status, 0, 'nothing answers inside a container without network');

    const refused = await runJob([step(0, 'refused', http, { url: `http://127.0.0.1:${webPort}/health`, network_mode: 'host' })]);
    assert.equal(refused.reports.get(0)!.state, 'failed');
    assert.equal(refused.reports.get(0)!.error, 'network_mode host is not allowed on this runner; its admin can start it with --allow-host-network');
  });
});

describe('the kv remote plugin, started by the runner', () => {
  for (const transport of ['unix', 'tcp'] as const) {
    test(`over ${transport}: streams logs, returns outputs, masks secrets, sends only referenced ones, and fails a failing call`, async () => {
      const kv = ref('kv', transport);
      const ran = await runJob([
        step(0, 'store', kv, { op: 'set', key: `token-${transport}`, value: '{{ .Secrets.KV_TOKEN }}', _config_dir: '/engine/internal' }),
        step(1, 'greet', kv, { op: 'set', key: 'greeting', value: 'hello {{ .steps.store.key }}' }),
        step(2, 'render', kv, { op: 'render', template: '[[greeting]] over ' + transport }),
        step(3, 'missing', kv, { op: 'get', key: 'never-set', required: true }, { continueOnError: true }),
      ]);
      assert.equal(ran.result.state, 'succeeded', JSON.stringify(ran.result));
      const store = ran.reports.get(0)!;
      assert.equal(store.state, 'succeeded', `${store.error} ${ran.logs.get(0)}`);
      assert.deepEqual(store.outputs, { key: `token-${transport}`, value: '***' }, 'a secret in outputs is masked');
      const storeLog = ran.logs.get(0)!;
      assert.match(storeLog, /kv set in plugin-test #1 step store\n/);
      assert.match(storeLog, /secrets received: KV_TOKEN\n/, 'only the referenced secret is sent');
      assert.match(storeLog, new RegExp(`set token-${transport} = \\*\\*\\*\\n`), 'a secret in the plugin log is masked');
      assert.ok(!storeLog.includes(SECRET));
      assert.match(ran.logs.get(1)!, /secrets received: none\n/);
      assert.deepEqual(ran.reports.get(2)!.outputs, { text: `hello token-${transport} over ${transport}` });

      const missing = ran.reports.get(3)!;
      assert.equal(missing.state, 'failed');
      assert.equal(missing.error, 'key never-set is not set');
      assert.match(ran.logs.get(3)!, /key never-set is not set\n/);
      const started = hostLog.filter(
        (line) => line.includes('started plugin flowyard-examples/kv@0.1.0') && line.includes(transport === 'tcp' ? 'tcp://127.0.0.1:' : 'unix://'),
      );
      assert.equal(started.length, 1, `one process per plugin version and transport:\n${hostLog.join('\n')}`);
    });
  }

  test('a cancel and a step timeout cancel the call; the plugin process is reused across jobs', async () => {
    const kv = ref('kv');
    const controller = new AbortController();
    const startedAt = Date.now();
    setTimeout(() => controller.abort('cancelled'), 700);
    const cancelled = await runJob([step(0, 'slow', kv, { op: 'get', key: 'x', wait_ms: 60_000 })], { signal: controller.signal });
    assert.equal(cancelled.result.state, 'cancelled', JSON.stringify([cancelled.result, [...cancelled.reports], [...cancelled.logs]]));
    assert.equal(cancelled.reports.get(0)!.state, 'cancelled');
    assert.ok(Date.now() - startedAt < 15_000, 'the cancel did not wait for the call');

    const timedOut = await runJob([step(0, 'slow', kv, { op: 'get', key: 'x', wait_ms: 60_000 }, { timeoutMs: 500 })]);
    assert.equal(timedOut.reports.get(0)!.state, 'timed_out', JSON.stringify([[...timedOut.reports], [...timedOut.logs]]));
    assert.match(timedOut.reports.get(0)!.error!, /timed out after 500 ms/);

    const seen = await runJob([step(0, 'count', kv, { op: 'get', key: '_cancelled_calls' }), step(1, 'earlier', kv, { op: 'get', key: 'token-unix' })]);
    assert.ok(Number(seen.reports.get(0)!.outputs!.value) >= 2, 'the plugin saw both calls cancelled');
    assert.equal(seen.reports.get(1)!.outputs!.found, true, 'values set by an earlier job are still there: the same process');
  });

  test("a plugin process gets none of the runner's environment but the basics, and a socket only the runner's user reaches", async () => {
    const started = hostLog.find((line) => line.startsWith('started plugin') && line.includes('unix://'))!;
    const [, pid, socket] = /\(pid (\d+)\) on unix:\/\/(\S+)/.exec(started)!;
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean);
    const names = environ.map((entry) => entry.split('=')[0]!);
    assert.deepEqual(
      names.filter((name) => !['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'].includes(name)),
      ['FLOWYARD_PLUGIN_ADDRESS'],
    );
    assert.ok(!environ.some((entry) => entry.includes(RUNNER_SECRET)));
    assert.equal((await stat(dirname(socket!))).mode & 0o777, 0o700);
  });

  test('stopping the host stops the plugin processes it started', async () => {
    const pids = hostLog
      .map((line) => /\(pid (\d+)\)/.exec(line)?.[1])
      .filter(Boolean)
      .map(Number);
    assert.ok(pids.length >= 1);
    for (const pid of pids) assert.doesNotThrow(() => process.kill(pid, 0), `plugin ${pid} runs`);
    await host.stop();
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `plugin ${pid} stopped`);
  });
});
