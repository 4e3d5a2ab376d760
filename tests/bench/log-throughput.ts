import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { startRunner } from '../../runners/daemon/daemon.ts';
import { startApiProcess } from './api-process.ts';

const LOG_BYTES = 50 * 1024 * 1024;
const GOAL_RATIO = 1.3;
const GOAL_RSS_MIB = 64;
const IMAGE = 'flowyard/busybox:latest';
const PRINT = `yes 'a fairly ordinary line of build output, 64 bytes long.........' | head -c ${LOG_BYTES}`;

/** `docker run --rm` of the image with the shell command, its output read and dropped; the exit status. Async, so the runner's sockets stay served. */
async function dockerRun(command: string): Promise<number | null> {
  const child = spawn('docker', ['run', '--rm', IMAGE, 'sh', '-c', command], { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * A step printing 50 MB through Flowyard (API accept → run succeeded, every byte stored) against the same container
 * writing the same bytes to /dev/null under a raw `docker run --rm`, in interleaved pairs; the figure is the ratio of
 * the medians. Also the API process's peak RSS growth over all rounds, and, as a reference, the same container under
 * `docker run` with its output attached (what streaming through the engine costs by itself).
 */
export async function benchLogThroughput(rounds = 5, port = 18933): Promise<void> {
  const api = await startApiProcess(port);
  const configPath = join(tmpdir(), `bench-throughput-runner-${Date.now()}.json`);
  try {
    const token = (await (await api.call('POST', '/api/runner-tokens', {})).json()) as { token: string };
    const runner = await startRunner({
      url: api.url,
      registrationToken: token.token,
      name: 'bench-throughput',
      labels: ['bench-throughput'],
      capacity: 1,
      configPath,
      docker: createDockerClient(),
    });
    try {
      const yaml = `name: loud\npipelines:\n  p:\n    runs_on: [bench-throughput]\n    steps:\n      - name: print\n        type: step.shell_exec\n        config:\n          image: ${IMAGE}\n          commands: ${JSON.stringify([PRINT])}\n`;
      const created = await api.call('POST', '/api/workflows', { name: 'loud', yaml });
      if (!created.ok) throw new Error(`workflow: ${created.status} ${await created.text()}`);
      const workflow = (await created.json()) as { id: string };
      await api.call('POST', `/api/workflows/${workflow.id}/publish`);
      const before = api.memory();
      const flowyard: number[] = [];
      const raw: number[] = [];
      const attached: number[] = [];
      for (let i = 0; i <= rounds; i++) {
        let started = performance.now();
        const run = (await (await api.call('POST', `/api/workflows/${workflow.id}/runs`, {})).json()) as { id: string };
        let state: { state: string; steps: Array<{ logBytes: number; error?: string | null }> };
        for (;;) {
          state = (await (await api.call('GET', `/api/runs/${run.id}`)).json()) as typeof state;
          if (!['queued', 'running'].includes(state.state)) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const flowyardMs = performance.now() - started;
        // The runner's own lines (the command it runs) come on top of the output.
        if (state.state !== 'succeeded' || state.steps[0]!.logBytes < LOG_BYTES) {
          throw new Error(
            `run ${state.state} with ${state.steps[0]?.logBytes} log bytes stored (expected ${LOG_BYTES}): ${JSON.stringify(state).slice(0, 1000)}`,
          );
        }
        started = performance.now();
        const direct = await dockerRun(`${PRINT} > /dev/null`);
        const rawMs = performance.now() - started;
        if (direct !== 0) throw new Error(`docker run exited ${direct}`);
        started = performance.now();
        const streamed = await dockerRun(PRINT);
        const attachedMs = performance.now() - started;
        if (streamed !== 0) throw new Error(`docker run (attached) exited ${streamed}`);
        // The first pair warms the image and the API.
        if (i > 0) {
          flowyard.push(flowyardMs);
          raw.push(rawMs);
          attached.push(attachedMs);
        }
      }
      const after = api.memory();
      const ratio = median(flowyard) / median(raw);
      const growth = after.peakMiB - before.peakMiB;
      const load = `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`;
      console.log(
        `50 MB step log: median ${median(flowyard).toFixed(0)} ms vs the container to /dev/null ${median(raw).toFixed(0)} ms: ${ratio.toFixed(2)}× (goal ≤ ${GOAL_RATIO}×: ${ratio <= GOAL_RATIO ? 'met' : 'missed'}), ${rounds} interleaved pairs (${load})`,
      );
      // What the engine's own streaming costs: the Docker CLI reading the same output through attach.
      console.log(
        `50 MB step log vs docker run with its output attached (the engine's streaming alone, ${median(attached).toFixed(0)} ms): ${(median(flowyard) / median(attached)).toFixed(2)}× (reference, no goal)`,
      );
      console.log(
        `50 MB step log, API peak RSS growth: ${growth.toFixed(0)} MiB, ${(growth / GOAL_RSS_MIB).toFixed(2)}× (goal ≤ 1× of ${GOAL_RSS_MIB} MiB: ${growth <= GOAL_RSS_MIB ? 'met' : 'missed'}; RSS ${before.rssMiB.toFixed(0)} → ${after.rssMiB.toFixed(0)} MiB over ${rounds + 1} runs)`,
      );
    } finally {
      await runner.stop();
    }
  } finally {
    await api.stop();
    rmSync(configPath, { force: true });
  }
}

// Alone: node --import tsx tests/bench/log-throughput.ts
if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await benchLogThroughput();
