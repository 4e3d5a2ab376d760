import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { startRunner } from '../../runners/daemon/daemon.ts';
import { startApiProcess, type ApiProcess } from './api-process.ts';

const IMAGE = 'flowyard/busybox:latest';
const COMMAND = 'echo step';
const TEN_STEP_GOAL = 2.5;
const ONE_STEP_GOAL = 1.1;
const FINISHED = ['succeeded', 'succeeded_with_warnings', 'failed', 'cancelled', 'timed_out'];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function shellWorkflow(name: string, steps: number): string {
  const step = (i: number) =>
    `      - name: s${i}\n        type: step.shell_exec\n        config: { image: ${IMAGE}, commands: [${JSON.stringify(COMMAND)}] }\n`;
  return `name: ${name}\npipelines:\n  p:\n    runs_on: [bench-job]\n    steps:\n${Array.from({ length: steps }, (_, i) => step(i)).join('')}`;
}

async function publish(api: ApiProcess, name: string, steps: number): Promise<string> {
  const created = await api.call('POST', '/api/workflows', { name, yaml: shellWorkflow(name, steps) });
  if (!created.ok) throw new Error(`workflow ${name}: ${created.status} ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  await api.call('POST', `/api/workflows/${id}/publish`);
  return id;
}

/** API accept → succeeded: from the POST that starts the run until the API reports it finished (polled every 10 ms). */
async function timedRun(api: ApiProcess, workflowId: string): Promise<number> {
  const started = performance.now();
  const response = await api.call('POST', `/api/workflows/${workflowId}/runs`, {});
  if (!response.ok) throw new Error(`start run: ${response.status} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  for (;;) {
    const run = (await (await api.call('GET', `/api/runs/${id}`)).json()) as { state: string };
    if (FINISHED.includes(run.state)) {
      if (run.state !== 'succeeded') throw new Error(`bench run ${id} ${run.state}`);
      return performance.now() - started;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function rawDockerRun(): number {
  const started = performance.now();
  const run = spawnSync('docker', ['run', '--rm', '--network', 'none', IMAGE, 'sh', '-c', COMMAND], { stdio: 'ignore' });
  if (run.status !== 0) throw new Error(`docker run exited ${run.status}`);
  return performance.now() - started;
}

function report(label: string, flowyard: number[], raw: number[], goal: number): void {
  const ratio = median(flowyard) / median(raw);
  console.log(
    `${label}: median ${median(flowyard).toFixed(0)} ms vs raw docker run ${median(raw).toFixed(0)} ms: ${ratio.toFixed(2)}× (goal ≤ ${goal}×: ${ratio <= goal ? 'met' : 'missed'}; ${raw.length} interleaved pairs, load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`,
  );
}

/**
 * A 10-step and a one-step shell job in one image through Flowyard (real API process, real runner, Docker), each
 * against one raw `docker run --rm` of the same image and command, in interleaved pairs; the figures are ratios of medians.
 */
export async function benchJobContainer(rounds = 6, port = 18934): Promise<void> {
  const api = await startApiProcess(port);
  const configPath = join(tmpdir(), `bench-job-runner-${Date.now()}.json`);
  try {
    const { token } = (await (await api.call('POST', '/api/runner-tokens', {})).json()) as { token: string };
    const runner = await startRunner({
      url: api.url,
      registrationToken: token,
      name: 'bench-job',
      labels: ['bench-job'],
      capacity: 1,
      configPath,
      docker: createDockerClient(),
    });
    try {
      const ten = await publish(api, 'ten-steps', 10);
      const one = await publish(api, 'one-step', 1);
      const times = { ten: [] as number[], one: [] as number[], rawTen: [] as number[], rawOne: [] as number[] };
      // The first round warms the runner's claim loop, the image and the engine.
      for (let i = 0; i <= rounds; i++) {
        const tenMs = await timedRun(api, ten);
        const rawTenMs = rawDockerRun();
        const oneMs = await timedRun(api, one);
        const rawOneMs = rawDockerRun();
        if (i === 0) continue;
        times.ten.push(tenMs);
        times.rawTen.push(rawTenMs);
        times.one.push(oneMs);
        times.rawOne.push(rawOneMs);
      }
      report('10-step shell job in one image', times.ten, times.rawTen, TEN_STEP_GOAL);
      report('one-step shell job', times.one, times.rawOne, ONE_STEP_GOAL);
    } finally {
      await runner.stop();
    }
  } finally {
    await api.stop();
    rmSync(configPath, { force: true });
  }
}

// Alone: node --import tsx tests/bench/job-container.ts
if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await benchJobContainer();
