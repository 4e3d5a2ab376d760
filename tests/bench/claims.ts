import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunnerApi } from '../../runners/daemon/client.ts';

const root = resolve(import.meta.dirname, '../..');
const ADMIN_TOKEN = 'fy_bench_claims_admin_token_0123456789';
const CLOCK_TICKS_PER_S = 100;

function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
}

/** User + system CPU of a process (all its threads) in ms, from /proc: the server runs in its own process so its CPU is its own. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

async function startServer(): Promise<{ child: ChildProcess; port: number; dataDir: string }> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'flowyard-bench-claims-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve', '--no-runner', '--port', String(port), '--data', dataDir], {
    cwd: root,
    env: { ...process.env, FLOWYARD_ADMIN_TOKEN: ADMIN_TOKEN, FLOWYARD_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (data: Buffer) => (output += data.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('listening on')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, dataDir };
}

async function api<T>(port: number, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** A runner that claims through the real protocol client and reports each job done at once. */
async function claimLoop(port: number, registrationToken: string, name: string, signal: AbortSignal, finished: () => void): Promise<void> {
  const client = new RunnerApi(`http://127.0.0.1:${port}`);
  const { token } = await client.register({ registrationToken, name, labels: ['bench'] });
  client.setToken(token);
  while (!signal.aborted) {
    const answer = await client.claim(20, signal).catch(() => null);
    if (!answer?.job) continue;
    await client.done(answer.job.jobId, { state: 'succeeded' });
    finished();
  }
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!;

/** N runs created at a steady pace with `runners` runners long-polling; the server's CPU per job and queued → claimed latencies. */
async function scenario(runners: number, jobs: number, paceMs: number): Promise<{ cpuPerJobMs: number; latencies: number[] }> {
  const { child, port, dataDir } = await startServer();
  const stop = new AbortController();
  try {
    const { token } = await api<{ token: string }>(port, 'POST', '/api/runner-tokens', { reusable: true, labels: ['bench'] });
    let done = 0;
    const loops = Array.from({ length: runners }, (_, i) => claimLoop(port, token, `bench-${i}`, stop.signal, () => done++));
    const yaml = `name: claims\npipelines:\n  main:\n    runs_on: [bench]\n    steps:\n      - name: work\n        type: step.shell_exec\n        config: { image: flowyard/busybox:latest, commands: ["true"] }\n`;
    const { id } = await api<{ id: string }>(port, 'POST', '/api/workflows', { name: 'claims', yaml });
    await api(port, 'POST', `/api/workflows/${id}/publish`);
    const runOnce = async () => (await api<{ id: string }>(port, 'POST', `/api/workflows/${id}/runs`, { inputs: {} })).id;
    // Counted in the runners, not by polling the API, so the server's CPU is spent on claims alone.
    const allDone = async (count: number) => {
      while (done < count) await new Promise((r) => setTimeout(r, 5));
    };
    // Warm-up: JIT, statement caches and every runner's first long-poll in place.
    for (let i = 0; i < 5; i++) await runOnce();
    await allDone(5);
    await new Promise((r) => setTimeout(r, 500));
    const cpuBefore = cpuMs(child.pid!);
    const runIds: string[] = [];
    // A steady arrival a single runner keeps up with: the figure is the cost of waking runners, not of a backlog.
    for (let i = 0; i < jobs; i++) {
      runIds.push(await runOnce());
      await new Promise((r) => setTimeout(r, paceMs));
    }
    await allDone(5 + jobs);
    const cpuPerJobMs = (cpuMs(child.pid!) - cpuBefore) / jobs;
    stop.abort();
    await Promise.allSettled(loops);
    const runs = await Promise.all(runIds.map((runId) => api<{ createdAt: string; startedAt: string }>(port, 'GET', `/api/runs/${runId}`)));
    return { cpuPerJobMs, latencies: runs.map((run) => Date.parse(run.startedAt!) - Date.parse(run.createdAt)) };
  } finally {
    stop.abort();
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** API CPU per job with 50 long-polling runners against 1, and the claim p99 with 50 (issue 12, "Claims and big workflows"). */
export async function benchClaims(jobs = 100, paceMs = 100): Promise<void> {
  const one = await scenario(1, jobs, paceMs);
  const fifty = await scenario(50, jobs, paceMs);
  const ratio = fifty.cpuPerJobMs / one.cpuPerJobMs;
  const p99 = percentile(fifty.latencies, 99);
  console.log(
    `API CPU per job, 50 runners / 1 runner: ${ratio.toFixed(2)}× (goal ≤ 1.2×: ${ratio <= 1.2 ? 'met' : 'missed'}; ${fifty.cpuPerJobMs.toFixed(1)} vs ${one.cpuPerJobMs.toFixed(1)} ms, ${jobs} jobs)`,
  );
  console.log(
    `claim p99 with 50 runners: ${p99.toFixed(0)} ms (goal ≤ 50 ms: ${p99 <= 50 ? 'met' : 'missed'}; queued → claimed, median ${percentile(fifty.latencies, 50).toFixed(0)} ms; 1 runner p99 ${percentile(one.latencies, 99).toFixed(0)} ms)`,
  );
}

if (process.argv[1] === import.meta.filename) await benchClaims();
