import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunnerApi } from '../../runners/daemon/client.ts';
import { startReplicas, type ReplicaSet } from '../helpers/replicas.ts';
import { openLogStream } from '../scale/sse-viewer.ts';

/** Issue 13's figures: three `serve --no-runner` replicas, Redis events, nginx round robin (tests/helpers/replicas.ts). */
const CLAIM_P99_GOAL_MS = 100;
const LOG_P95_GOAL_MS = 250;
const CLAIM_RUNNERS = 50;
const CLAIM_JOBS = 60;
const LOG_LINES = 30;
const VIEWERS = 500;
const VIEWER_CHUNKS = 20;
const CONCURRENT_RUNS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!;
/** "X× (goal ≤ 1×: met|missed" for a figure against its goal in ms. */
const verdict = (value: number, goal: number) => `${(value / goal).toFixed(2)}× the ${goal} ms goal (goal ≤ 1×: ${value <= goal ? 'met' : 'missed'}`;

async function api<T>(set: ReplicaSet, method: string, path: string, body?: unknown, base?: string): Promise<T> {
  const response = await set.call(method, path, body, base);
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function publish(set: ReplicaSet, name: string, yaml: string): Promise<string> {
  const { id } = await api<{ id: string }>(set, 'POST', '/api/workflows', { name, yaml });
  await api(set, 'POST', `/api/workflows/${id}/publish`);
  return id;
}

const startRun = async (set: ReplicaSet, workflowId: string, base?: string) =>
  (await api<{ id: string }>(set, 'POST', `/api/workflows/${workflowId}/runs`, {}, base)).id;

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** 50 runners long-polling through nginx (so spread over the replicas); runs created through nginx at a steady pace. */
async function claimLatency(set: ReplicaSet): Promise<void> {
  const stop = new AbortController();
  let done = 0;
  const loop = async (i: number) => {
    const client = new RunnerApi(set.url);
    const { token } = await client.register({ registrationToken: await set.registrationToken(['claims']), name: `claims-${i}`, labels: ['claims'] });
    client.setToken(token);
    while (!stop.signal.aborted) {
      const answer = await client.claim(20, stop.signal).catch(() => null);
      if (!answer?.job) continue;
      await client.done(answer.job.jobId, { state: 'succeeded' });
      done++;
    }
  };
  const loops = Array.from({ length: CLAIM_RUNNERS }, (_, i) => loop(i));
  const id = await publish(
    set,
    'claims',
    'name: claims\npipelines:\n  main:\n    runs_on: [claims]\n    steps:\n      - { name: work, type: step.log, config: { message: hi } }\n',
  );
  await sleep(1000);
  const runIds: string[] = [];
  for (let i = 0; i < CLAIM_JOBS; i++) {
    runIds.push(await startRun(set, id));
    await sleep(100);
  }
  await until(async () => done >= CLAIM_JOBS, 'every claim', 60_000);
  stop.abort();
  await Promise.allSettled(loops);
  const runs = await Promise.all(runIds.map((runId) => api<{ createdAt: string; startedAt: string }>(set, 'GET', `/api/runs/${runId}`)));
  const latencies = runs.map((run) => Date.parse(run.startedAt) - Date.parse(run.createdAt));
  const p99 = percentile(latencies, 99);
  console.log(
    `claim p99, ${CLAIM_RUNNERS} runners over 3 replicas: ${p99.toFixed(0)} ms = ${verdict(p99, CLAIM_P99_GOAL_MS)}; median ${percentile(latencies, 50).toFixed(0)} ms, ${CLAIM_JOBS} runs every 100 ms)`,
  );
}

/** Lines stamped in the container with CLOCK_REALTIME (busybox adjtimex), as tests/bench/log-latency.ts does. */
const PRINTER = [
  `i=0; while [ $i -lt ${LOG_LINES} ]; do i=$((i+1));`,
  `echo "line $i $(adjtimex | awk '/tv_sec/{s=$2}/tv_usec/{u=$2}END{printf "%d%06d", s, u}')";`,
  'sleep 0.2; done',
].join(' ');

/** A runner daemon talking to replica 0, the viewer attached to replica 2. */
async function logLatency(set: ReplicaSet): Promise<void> {
  const runner = await set.startRunner({ name: 'bench-log', labels: ['bench-log'], capacity: 1, url: set.replicas[0]!.url });
  try {
    const id = await publish(
      set,
      'ticker',
      `name: ticker\npipelines:\n  p:\n    runs_on: [bench-log]\n    steps:\n      - name: print\n        type: step.shell_exec\n        config:\n          image: flowyard/busybox:latest\n          commands: ${JSON.stringify([PRINTER])}\n`,
    );
    const runId = await startRun(set, id, set.replicas[1]!.url);
    const viewer = openLogStream(set.replicas[2]!.url, runId, 'print');
    await viewer.closed;
    const latencies: number[] = [];
    for (const event of viewer.events.filter((e) => e.event === 'log')) {
      for (const line of (JSON.parse(event.data) as string).split('\n')) {
        const micros = /^line \d+ (\d+)$/.exec(line)?.[1];
        if (micros) latencies.push(event.receivedAt - Number(micros) / 1000);
      }
    }
    if (latencies.length !== LOG_LINES) throw new Error(`expected ${LOG_LINES} stamped lines, got ${latencies.length}`);
    const p95 = percentile(latencies, 95);
    console.log(
      `container line → SSE viewer on another replica p95: ${p95.toFixed(0)} ms = ${verdict(p95, LOG_P95_GOAL_MS)}; p50 ${percentile(latencies, 50).toFixed(0)} ms, ${LOG_LINES} lines every 200 ms)`,
    );
  } finally {
    await runner.stop();
  }
}

let retries = 0;
/** A call made again after a 502 or a broken connection (a replica too busy to accept), as the runner daemon does. */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= 10 || ((error as { status?: number }).status ?? 502) < 500) throw error;
      retries++;
      await sleep(250 * attempt);
    }
  }
}

/** 500 viewers through nginx on one step while a hand-spoken runner appends a chunk every 100 ms. */
async function manyViewers(set: ReplicaSet): Promise<void> {
  const id = await publish(
    set,
    'watched',
    'name: watched\npipelines:\n  p:\n    runs_on: [watched]\n    steps:\n      - { name: work, type: step.log, config: { message: hi } }\n',
  );
  const runId = await startRun(set, id);
  const client = new RunnerApi(set.url);
  const { token } = await client.register({ registrationToken: await set.registrationToken(['watched']), name: 'watched', labels: ['watched'] });
  client.setToken(token);
  const claimed = await client.claim(10);
  if (!claimed?.job) throw new Error('no job for the watched run');
  const jobId = claimed.job.jobId;
  await client.reportStep(jobId, 0, { state: 'running' });
  // Opened 50 at a time, as viewers arrive; the runner's calls are retried as the real runner's are.
  const viewers: ReturnType<typeof openLogStream>[] = [];
  for (let i = 0; i < VIEWERS; i += 50) {
    viewers.push(...Array.from({ length: 50 }, () => openLogStream(set.url, runId, 'work')));
    await sleep(200);
  }
  const outcomes = Promise.allSettled(viewers.map((viewer) => viewer.closed));
  await sleep(2000);
  const before = set.replicas.map((r) => r.usage());
  const started = Date.now();
  for (let seq = 0; seq < VIEWER_CHUNKS; seq++) {
    await retried(() => client.appendLogs(jobId, [{ stepIndex: 0, seq, data: Buffer.from(`chunk ${seq}\n`).toString('base64') }]));
    await sleep(100);
  }
  await retried(() => client.reportStep(jobId, 0, { state: 'succeeded', exitCode: 0 }));
  await retried(() => client.done(jobId, { state: 'succeeded' }));
  const settled = await outcomes;
  const seconds = (Date.now() - started) / 1000;
  const after = set.replicas.map((r) => r.usage());
  const failures = settled.flatMap((o) => (o.status === 'rejected' ? [String((o.reason as Error).cause ?? o.reason)] : []));
  const errors = failures.length;
  const incomplete = viewers.filter((v) => v.events.filter((e) => e.event === 'log').length !== VIEWER_CHUNKS || v.events.at(-1)?.event !== 'end').length;
  const cpu = after.map((a, i) => ((a.cpuSeconds - before[i]!.cpuSeconds) / seconds) * 100);
  console.log(
    `${VIEWERS} SSE viewers on one run: replicas' CPU ${cpu.map((c) => `${c.toFixed(0)}%`).join(' / ')} of a core over ${seconds.toFixed(1)} s, RSS ${after.map((a) => `${a.rssMiB.toFixed(0)}`).join(' / ')} MiB; errors ${errors}, incomplete streams ${incomplete} (goal: 0 errors: ${errors + incomplete === 0 ? 'met' : 'missed'}); ${retries} runner calls retried, replicas alive ${set.replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null).length}/3${failures[0] ? `; first error: ${failures[0]}` : ''}`,
  );
}

/** 20 runs of a Docker step at once, one runner daemon with capacity 5 through nginx. */
async function concurrentRuns(set: ReplicaSet): Promise<void> {
  const runner = await set.startRunner({ name: 'bench-many', labels: ['bench-many'], capacity: 5 });
  try {
    const id = await publish(
      set,
      'many',
      'name: many\npipelines:\n  p:\n    runs_on: [bench-many]\n    steps:\n      - { name: hi, type: step.shell_exec, config: { image: flowyard/busybox:latest, commands: ["echo hi"] } }\n',
    );
    const started = Date.now();
    const runIds = await Promise.all(Array.from({ length: CONCURRENT_RUNS }, () => startRun(set, id)));
    const states = new Map<string, string>();
    await until(
      async () => {
        for (const runId of runIds) states.set(runId, (await api<{ state: string }>(set, 'GET', `/api/runs/${runId}`)).state);
        return [...states.values()].every((state) => !['queued', 'running'].includes(state));
      },
      'every run to finish',
      300_000,
    );
    const failed = [...states.values()].filter((state) => state !== 'succeeded').length;
    console.log(
      `${CONCURRENT_RUNS} concurrent runs (one runner, capacity 5, through nginx): ${((Date.now() - started) / 1000).toFixed(1)} s, ${failed} not succeeded`,
    );
  } finally {
    await runner.stop();
  }
}

export async function benchReplicas(): Promise<void> {
  // The hand-spoken runner of the viewers' run does not renew its lease; on a loaded machine 30 s can pass.
  const set = await startReplicas({ env: { FLOWYARD_LEASE_MS: '600000' } });
  try {
    await claimLatency(set);
    await logLatency(set);
    await manyViewers(set);
    await concurrentRuns(set);
  } finally {
    await set.close();
  }
}

// Alone: node --import tsx tests/bench/replicas.ts
if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await benchReplicas();
