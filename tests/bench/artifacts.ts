/**
 * Issue 12, "Artifacts: as fast as a direct upload". Interleaved pairs, each figure a ratio of medians:
 *   - a 100 MiB `step.artifact_push` to S3 (s3rver in its own process) against a direct PutObject of the same bytes;
 *   - the same push to the embedded store against `cp` + `sync` of the same file into the API's data folder;
 *   - a 1 GiB push to the embedded store, the runner in its own process: the peak RSS of the runner and of the API.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunnerApi } from '../../runners/daemon/client.ts';
import { httpArtifacts } from '../../runners/daemon/http-artifacts.ts';
import { exportFromWorkspace } from '../../runners/docker/archive.ts';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { artifactPush } from '../../runners/executors/artifacts.ts';
import type { StepRuntime } from '../../runners/executors/types.ts';
import { S3_CREDENTIALS } from '../helpers/s3.ts';

const root = resolve(import.meta.dirname, '../..');
const ADMIN_TOKEN = 'fy_bench_artifacts_admin_token_012345';
const HELPER_IMAGE = 'flowyard/busybox:latest';
const MiB = 1024 * 1024;
const BUCKET = 'flowyard-bench';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const verdict = (value: number, goal: number) => (value <= goal ? 'met' : 'missed');

function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
}

async function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<string> {
  let output = '';
  child.stdout!.on('data', (data: Buffer) => (output += data.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = pattern.exec(output);
    if (match) return match[0];
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const stopChild = async (child: ChildProcess) => {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
};

async function startS3Process() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/bench/s3rver-process.ts', BUCKET], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const { port } = JSON.parse(await waitForLine(child, /\{"port":\d+\}/, 's3rver')) as { port: number };
  return { child, endpoint: `http://127.0.0.1:${port}`, url: `s3://${BUCKET}?endpoint=http://127.0.0.1:${port}&region=us-east-1&forcePathStyle=true` };
}

async function startApi(artifactsUrl?: string) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'flowyard-bench-artifacts-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve', '--no-runner', '--port', String(port), '--data', dataDir], {
    cwd: root,
    env: {
      ...process.env,
      ...S3_CREDENTIALS,
      FLOWYARD_ADMIN_TOKEN: ADMIN_TOKEN,
      FLOWYARD_LOG_LEVEL: 'error',
      FLOWYARD_LEASE_MS: '600000',
      ...(artifactsUrl ? { ARTIFACTS_URL: artifactsUrl } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await waitForLine(child, /listening on/, 'serve');
  return { child, port, dataDir, url: `http://127.0.0.1:${port}` };
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

/** A job of a fresh run held by a runner of this process: artifact calls need a job whose lease the runner holds. */
async function heldJob(port: number): Promise<{ client: RunnerApi; token: string; jobId: string }> {
  const { token: registrationToken } = await api<{ token: string }>(port, 'POST', '/api/runner-tokens', { reusable: true, labels: ['bench-artifacts'] });
  const client = new RunnerApi(`http://127.0.0.1:${port}`);
  const { token } = await client.register({ registrationToken, name: 'bench-artifacts', labels: ['bench-artifacts'] });
  client.setToken(token);
  const yaml = `name: artifacts\npipelines:\n  main:\n    runs_on: [bench-artifacts]\n    steps:\n      - name: push\n        type: step.artifact_push\n        config: { key: bench, path: . }\n`;
  const { id } = await api<{ id: string }>(port, 'POST', '/api/workflows', { name: 'artifacts', yaml });
  await api(port, 'POST', `/api/workflows/${id}/publish`);
  await api(port, 'POST', `/api/workflows/${id}/runs`, { inputs: {} });
  const answer = await client.claim(10);
  if (!answer) throw new Error('no job to claim');
  return { client, token, jobId: answer.job.jobId };
}

function fillVolume(volume: string, bytes: number): void {
  const result = spawnSync(
    'docker',
    ['run', '--rm', '--network', 'none', '-v', `${volume}:/workspace`, HELPER_IMAGE, 'sh', '-c', `head -c ${bytes} /dev/urandom > /workspace/blob.bin`],
    { stdio: 'inherit' },
  );
  if (result.status !== 0) throw new Error(`could not fill ${volume}`);
}

const removeVolume = (volume: string) => spawnSync('docker', ['volume', 'rm', '-f', volume], { stdio: 'ignore' });

function pushRuntime(volume: string, client: RunnerApi, jobId: string, tempDir: string, key: string): StepRuntime {
  return {
    step: { index: 0, name: 'push' },
    config: { key, path: '.' },
    docker: createDockerClient(),
    workspaceVolume: volume,
    helperImage: HELPER_IMAGE,
    tempDir,
    artifacts: httpArtifacts(client, jobId),
    log: () => {},
    output: () => {},
    signal: new AbortController().signal,
  } as unknown as StepRuntime;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function push(runtime: StepRuntime): Promise<void> {
  const result = await artifactPush(runtime);
  if (result.state !== 'succeeded') throw new Error(`push failed: ${result.error}`);
}

const statusMiB = (pid: number, field: 'VmHWM' | 'VmRSS') =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

/** 100 MiB pushes to S3 and to the embedded store against their direct counterparts, `pairs` interleaved pairs each. */
async function speed(volume: string, tarFile: string, tempDir: string, pairs: number) {
  const s3 = await startS3Process();
  const s3Api = await startApi(s3.url);
  const embeddedApi = await startApi();
  try {
    const s3Job = await heldJob(s3Api.port);
    const embeddedJob = await heldJob(embeddedApi.port);
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const size = statSync(tarFile).size;
    const putObject = (i: number) =>
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `direct/${i}`, Body: createReadStream(tarFile), ContentLength: size }));
    const copyAndSync = (i: number) => {
      const target = join(embeddedApi.dataDir, `copy-${i}.tar`);
      const result = spawnSync('sh', ['-c', `cp "$0" "$1" && sync "$1"`, tarFile, target]);
      if (result.status !== 0) throw new Error(`cp + sync failed: ${result.stderr}`);
    };
    const s3Pairs: Array<[number, number]> = [];
    const embeddedPairs: Array<[number, number]> = [];
    // One warm-up of each, then interleaved pairs (which goes first alternates).
    await push(pushRuntime(volume, s3Job.client, s3Job.jobId, tempDir, 'warm'));
    await putObject(-1);
    await push(pushRuntime(volume, embeddedJob.client, embeddedJob.jobId, tempDir, 'warm'));
    copyAndSync(-1);
    for (let i = 0; i < pairs; i++) {
      const s3Push = () => timed(() => push(pushRuntime(volume, s3Job.client, s3Job.jobId, tempDir, `push-${i}`)));
      const direct = () => timed(() => putObject(i));
      s3Pairs.push(i % 2 === 0 ? [await s3Push(), await direct()] : (([b, a]) => [a, b] as [number, number])([await direct(), await s3Push()]));
      const embeddedPush = () => timed(() => push(pushRuntime(volume, embeddedJob.client, embeddedJob.jobId, tempDir, `push-${i}`)));
      const copy = () => timed(async () => copyAndSync(i));
      embeddedPairs.push(i % 2 === 0 ? [await embeddedPush(), await copy()] : (([b, a]) => [a, b] as [number, number])([await copy(), await embeddedPush()]));
    }
    return { s3Pairs, embeddedPairs, size };
  } finally {
    await Promise.all([stopChild(s3Api.child), stopChild(embeddedApi.child), stopChild(s3.child)]);
    rmSync(s3Api.dataDir, { recursive: true, force: true });
    rmSync(embeddedApi.dataDir, { recursive: true, force: true });
  }
}

/** A 1 GiB push to the embedded store (every byte passes through the API) by a runner in its own process. */
async function memory(bytes: number) {
  const volume = `flowyard-bench-artifacts-1g-${process.pid}`;
  const embeddedApi = await startApi();
  try {
    fillVolume(volume, bytes);
    const job = await heldJob(embeddedApi.port);
    const apiBefore = statusMiB(embeddedApi.child.pid!, 'VmRSS');
    // Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS: the figure is the push's, not the start-up's.
    writeFileSync(`/proc/${embeddedApi.child.pid}/clear_refs`, '5');
    const runner = spawn(process.execPath, ['--import', 'tsx', 'tests/bench/artifact-push-process.ts', embeddedApi.url, job.token, job.jobId, volume, 'big'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((done, fail) => {
      let output = '';
      runner.stdout!.on('data', (data: Buffer) => (output += data.toString()));
      runner.once('exit', (code) => (code === 0 ? done(output) : fail(new Error(`the push process exited ${code}: ${output}`))));
    });
    const result = JSON.parse(line.trim().split('\n').at(-1)!) as { ms: number; peakRssMiB: number; rssBeforeMiB: number; size: number };
    return { ...result, apiPeakMiB: statusMiB(embeddedApi.child.pid!, 'VmHWM'), apiBeforeMiB: apiBefore };
  } finally {
    await stopChild(embeddedApi.child);
    rmSync(embeddedApi.dataDir, { recursive: true, force: true });
    removeVolume(volume);
  }
}

const ratioOf = (pairs: Array<[number, number]>) => median(pairs.map(([ours, theirs]) => ours / theirs));

async function speedFigures(volume: string, tarFile: string, tempDir: string, pairs: number): Promise<void> {
  const { s3Pairs, embeddedPairs, size } = await speed(volume, tarFile, tempDir, pairs);
  const s3 = ratioOf(s3Pairs);
  const embedded = ratioOf(embeddedPairs);
  const ms = (pairs: Array<[number, number]>, side: 0 | 1) => median(pairs.map((pair) => pair[side])).toFixed(0);
  console.log(
    `artifact push to S3, 100 MiB / direct PutObject: ${s3.toFixed(2)}× (goal ≤ 1.3×: ${verdict(s3, 1.3)}; median ${ms(s3Pairs, 0)} vs ${ms(s3Pairs, 1)} ms, ${pairs} interleaved pairs, ${(size / MiB).toFixed(1)} MiB tar)`,
  );
  console.log(
    `artifact push to the embedded store, 100 MiB / cp + sync: ${embedded.toFixed(2)}× (goal ≤ 1.5×: ${verdict(embedded, 1.5)}; median ${ms(embeddedPairs, 0)} vs ${ms(embeddedPairs, 1)} ms, ${pairs} interleaved pairs)`,
  );
}

export async function benchArtifacts(pairs = 5, memoryBytes = 1024 * MiB): Promise<void> {
  const volume = `flowyard-bench-artifacts-${process.pid}`;
  const tempDir = mkdtempSync(join(tmpdir(), 'flowyard-bench-artifacts-'));
  try {
    fillVolume(volume, 100 * MiB);
    const tarFile = join(tempDir, 'same-bytes.tar');
    await exportFromWorkspace(createDockerClient(), HELPER_IMAGE, volume, '.', tarFile);
    if (pairs > 0) await speedFigures(volume, tarFile, tempDir, pairs);
    const big = await memory(memoryBytes);
    const limit = 128;
    console.log(
      `artifact push of ${(big.size / MiB).toFixed(0)} MiB, runner peak RSS: ${big.peakRssMiB.toFixed(0)} MiB (goal < ${limit} MiB: ${big.peakRssMiB < limit ? 'met' : 'missed'}; ${big.rssBeforeMiB.toFixed(0)} MiB before the push, which took ${(big.ms / 1000).toFixed(1)} s)`,
    );
    console.log(
      `artifact push of ${(big.size / MiB).toFixed(0)} MiB, API peak RSS: ${big.apiPeakMiB.toFixed(0)} MiB (goal < ${limit} MiB: ${big.apiPeakMiB < limit ? 'met' : 'missed'}; ${big.apiBeforeMiB.toFixed(0)} MiB before the push, embedded store)`,
    );
  } finally {
    removeVolume(volume);
    rmSync(tempDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) await benchArtifacts(Number(process.env.BENCH_PAIRS ?? 5), Number(process.env.BENCH_MEMORY_MIB ?? 1024) * MiB);
