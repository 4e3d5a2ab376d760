import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { createWorkspaceVolume, removeWorkspaceVolume } from '../../runners/docker/workspace.ts';
import type { StepRuntime } from '../../runners/executors/types.ts';
import { pluginStepExecutor } from '../../runners/plugins/executor.ts';
import { callExecute } from '../../runners/plugins/grpc.ts';
import { PluginHost } from '../../runners/plugins/host.ts';
import type { PluginStepRef } from '../../runners/protocol/v1.ts';
import { buildHttpCheckImage, bundleKvServer, packExamplePlugin, type PackedPlugin } from '../../scripts/build-example-plugins.ts';
import { testJobSpec } from '../helpers/job-spec.ts';

const NOOP_IMAGE = 'flowyard/busybox:latest';
const REMOTE_GOAL_MS = 0.5;
const CONTAINER_GOAL_RATIO = 1.3;

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;
const median = (values: number[]) => percentile(values, 0.5);

function hostFor(dataDir: string, plugins: PackedPlugin[], log?: (line: string) => void): PluginHost {
  const byName = new Map(plugins.map((p) => [p.manifest.name, p]));
  return new PluginHost({
    dataDir,
    log,
    fetchArchive: async ({ name }) => ({ digest: byName.get(name)!.digest, archiveBase64: byName.get(name)!.archive.toString('base64') }),
  });
}

/** CPU time a process has used so far (Linux /proc, clock ticks of 10 ms). */
async function processCpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const refOf = (plugin: PackedPlugin, runtime: PluginStepRef['runtime']): PluginStepRef => ({
  name: plugin.manifest.name,
  version: plugin.manifest.version,
  digest: plugin.digest,
  runtime,
});

/** A remote step that does nothing (kv `noop`): one Execute call on the process the runner started, p50 and p99. */
export async function benchRemoteStepCall(calls = 3000, warmup = 2000): Promise<void> {
  await bundleKvServer();
  const kv = await packExamplePlugin('kv');
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-plugins-'));
  const pids: number[] = [];
  const host = hostFor(dataDir, [kv], (line) => pids.push(Number(/\(pid (\d+)\)/.exec(line)?.[1] ?? Number.NaN)));
  const request = { step_type: 'step.kv', config: { op: 'noop' }, metadata: { run_id: 'bench', step: 'noop' }, trigger: {}, outputs: {}, secrets: {} };
  const io = { onLog: () => undefined, signal: new AbortController().signal };
  try {
    for (const transport of ['unix', 'tcp'] as const) {
      const client = await host.client(refOf(kv, { kind: 'remote', command: ['node', 'dist/server.cjs'], transport }));
      for (let i = 0; i < warmup; i++) await callExecute(client, request, io);
      const times: number[] = [];
      const pluginPid = pids.filter(Number.isFinite).at(-1)!;
      const cpuBefore = [process.cpuUsage(), await processCpuMs(pluginPid)] as const;
      for (let i = 0; i < calls; i++) {
        const started = performance.now();
        const outcome = await callExecute(client, request, io);
        times.push(performance.now() - started);
        if (outcome.state !== 'succeeded') throw new Error(`no-op call ${outcome.state}: ${'error' in outcome ? outcome.error : ''}`);
      }
      const runnerCpu = process.cpuUsage(cpuBefore[0]);
      const cpuPerCall = ((runnerCpu.user + runnerCpu.system) / 1000 + (await processCpuMs(pluginPid)) - cpuBefore[1]) / calls;
      const p50 = median(times);
      const p99 = percentile(times, 0.99);
      const goal =
        transport === 'unix' ? ` (${(p50 / REMOTE_GOAL_MS).toFixed(2)}× the ${REMOTE_GOAL_MS} ms goal: ${p50 <= REMOTE_GOAL_MS ? 'met' : 'missed'})` : '';
      console.log(
        `remote step no-op call over ${transport}: p50 ${p50.toFixed(3)} ms${goal}, p99 ${p99.toFixed(3)} ms, CPU ${cpuPerCall.toFixed(3)} ms a call (runner + plugin), ${calls} calls after ${warmup} (load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`,
      );
    }
  } finally {
    await host.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * A container step that does nothing (busybox's default `sh` exits at once) through the plugin executor, against a
 * raw `docker run --rm` of the same image, in interleaved pairs; the figure is the ratio of the medians.
 */
export async function benchContainerStep(rounds = 8): Promise<void> {
  const docker = createDockerClient();
  await buildHttpCheckImage(docker);
  const plugin = await packExamplePlugin('http-check');
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-plugins-'));
  const host = hostFor(dataDir, [plugin]);
  const job = testJobSpec({ runId: `bench-plugin-${Date.now()}`, workflow: 'bench', pipeline: 'main' });
  const volume = await createWorkspaceVolume(docker, job.jobId, { 'flowyard.run': job.runId });
  // The declared outputs come from http-check's plugin.yaml; the image is the no-op one.
  const step = {
    index: 0,
    name: 'noop',
    type: 'step.http_check',
    config: {},
    timeoutMs: null,
    continueOnError: false,
    plugin: refOf(plugin, { kind: 'container', image: NOOP_IMAGE }),
  };
  const execute = pluginStepExecutor(host, {});
  const runtime = {
    job,
    step,
    config: {},
    context: {},
    env: {},
    docker,
    workspaceVolume: volume,
    helperImage: NOOP_IMAGE,
    tempDir: dataDir,
    artifacts: { upload: () => Promise.reject(new Error('none')), download: () => Promise.reject(new Error('none')) },
    output: () => undefined,
    log: () => undefined,
    signal: new AbortController().signal,
  } satisfies StepRuntime;
  const plugged: number[] = [];
  const raw: number[] = [];
  try {
    for (let i = 0; i <= rounds; i++) {
      let started = performance.now();
      const result = await execute(runtime);
      const stepMs = performance.now() - started;
      if (result.state !== 'succeeded') throw new Error(`no-op container step ${result.state}: ${result.error}`);
      started = performance.now();
      const run = spawnSync('docker', ['run', '--rm', NOOP_IMAGE], { stdio: 'ignore' });
      const rawMs = performance.now() - started;
      if (run.status !== 0) throw new Error(`docker run exited ${run.status}`);
      // The first pair warms the image and the archive cache.
      if (i > 0) {
        plugged.push(stepMs);
        raw.push(rawMs);
      }
    }
    const ratio = median(plugged) / median(raw);
    console.log(
      `container step no-op: median ${median(plugged).toFixed(0)} ms vs raw docker run ${median(raw).toFixed(0)} ms: ${ratio.toFixed(2)}× (goal ≤ ${CONTAINER_GOAL_RATIO}×: ${ratio <= CONTAINER_GOAL_RATIO ? 'met' : 'missed'}), ${rounds} interleaved pairs`,
    );
  } finally {
    await removeWorkspaceVolume(docker, volume).catch(() => undefined);
    await host.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchRemoteStepCall();
  await benchContainerStep();
}
