import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { startRunner } from '../../runners/daemon/daemon.ts';
import { BENCH_ADMIN_TOKEN, startApiProcess } from './api-process.ts';

const LINES = 40;
const GOAL_P95_MS = 100;

/**
 * Each line carries the time it was printed, read with busybox `adjtimex` (microseconds of CLOCK_REALTIME, the
 * same kernel clock as the host's Date.now()); busybox `date` has no %N, and `ts` buffers its output.
 */
const PRINTER = [
  `i=0; while [ $i -lt ${LINES} ]; do i=$((i+1));`,
  `echo "line $i $(adjtimex | awk '/tv_sec/{s=$2}/tv_usec/{u=$2}END{printf "%d%06d", s, u}')";`,
  'sleep 0.2; done',
].join(' ');

const nowMs = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Reads the step's log as an SSE client until `end`, stamping every printed line with the time its event arrived. */
async function latenciesOverSse(url: string, token: string): Promise<{ latencies: number[]; end: string }> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
  if (!response.ok || !response.body) throw new Error(`SSE ${url}: ${response.status}`);
  const latencies: number[] = [];
  const decoder = new TextDecoder();
  let pending = '';
  let partialLine = '';
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    const receivedAt = nowMs();
    pending += decoder.decode(bytes, { stream: true });
    let boundary: number;
    while ((boundary = pending.indexOf('\n\n')) >= 0) {
      const event = pending.slice(0, boundary);
      pending = pending.slice(boundary + 2);
      const data = event.split('\n').find((line) => line.startsWith('data: '));
      if (event.startsWith('event: end')) return { latencies, end: data?.slice(6) ?? '' };
      if (!event.startsWith('event: log') || !data) continue;
      const lines = (partialLine + (JSON.parse(data.slice(6)) as string)).split('\n');
      partialLine = lines.pop()!;
      for (const line of lines) {
        const printedMicros = /^line \d+ (\d+)$/.exec(line)?.[1];
        if (printedMicros) latencies.push(receivedAt - Number(printedMicros) / 1000);
      }
    }
  }
  throw new Error('the log stream closed without an end event');
}

/** A line printed in a container → the same line in an SSE client of the run's log (real API process, runner, Docker). */
export async function benchLogLatency(port = 18932): Promise<void> {
  const api = await startApiProcess(port);
  const configPath = join(tmpdir(), `bench-latency-runner-${Date.now()}.json`);
  try {
    const token = (await (await api.call('POST', '/api/runner-tokens', {})).json()) as { token: string };
    const runner = await startRunner({
      url: api.url,
      registrationToken: token.token,
      name: 'bench-latency',
      labels: ['bench-latency'],
      capacity: 1,
      configPath,
      docker: createDockerClient(),
    });
    try {
      const yaml = `name: ticker\npipelines:\n  p:\n    runs_on: [bench-latency]\n    steps:\n      - name: print\n        type: step.shell_exec\n        config:\n          image: flowyard/busybox:latest\n          commands: ${JSON.stringify([PRINTER])}\n`;
      const created = await api.call('POST', '/api/workflows', { name: 'ticker', yaml });
      if (!created.ok) throw new Error(`workflow: ${created.status} ${await created.text()}`);
      const workflow = (await created.json()) as { id: string };
      await api.call('POST', `/api/workflows/${workflow.id}/publish`);
      const run = (await (await api.call('POST', `/api/workflows/${workflow.id}/runs`, {})).json()) as { id: string };
      const { latencies, end } = await latenciesOverSse(`${api.url}/api/runs/${run.id}/logs?step=print`, BENCH_ADMIN_TOKEN);
      if (latencies.length !== LINES) throw new Error(`expected ${LINES} timestamped lines over SSE, got ${latencies.length} (end ${end})`);
      const sorted = [...latencies].sort((a, b) => a - b);
      const p50 = percentile(sorted, 50);
      const p95 = percentile(sorted, 95);
      console.log(
        `line → SSE viewer p95: ${p95.toFixed(0)} ms (goal ≤ ${GOAL_P95_MS} ms: ${(p95 / GOAL_P95_MS).toFixed(2)}× the goal, ${p95 <= GOAL_P95_MS ? 'met' : 'missed'}); p50 ${p50.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms, ${LINES} lines every 200 ms in one run (step ${end})`,
      );
    } finally {
      await runner.stop();
    }
  } finally {
    await api.stop();
    rmSync(configPath, { force: true });
  }
}

// Alone: node --import tsx tests/bench/log-latency.ts
if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await benchLogLatency();
