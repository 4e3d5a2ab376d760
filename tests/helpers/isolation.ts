// Real listeners on the loopback interface that record what reaches them, and a way to run whole jobs
// (executeJob with its end-of-job cleanup) or single executors on the real engine, for the isolation tests.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerClient, describeDockerHost, imageExists, pingDocker } from '../../runners/docker/engine.ts';
import type { RunnerPolicy } from '../../runners/docker/policy.ts';
import { executeJob } from '../../runners/job/execute.ts';
import { localArtifacts } from '../../runners/local/local-artifacts.ts';
import type { JobResult, JobSpec, StepReport, StepSpec } from '../../runners/protocol/v1.ts';
import { testJobSpec } from './job-spec.ts';

export const BASE_IMAGE = 'flowyard/busybox:latest';
export const docker = createDockerClient();

export async function requireEngine(): Promise<void> {
  if (!(await pingDocker(docker))) assert.fail(`Docker engine not reachable at ${describeDockerHost()}: run "bash scripts/setup/docker.sh" first`);
  assert.ok(await imageExists(docker, BASE_IMAGE), `image ${BASE_IMAGE} missing: run "bash scripts/setup/docker.sh" first`);
}

/** An HTTP server on 127.0.0.1 that answers "host secret" and counts the requests that reached it. */
export async function loopbackHttpServer(): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createHttpServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.end('host secret\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A TCP listener on 127.0.0.1 that keeps every byte sent to it and then hangs up. */
export async function loopbackTcpListener(): Promise<{ port: number; received(): Buffer; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const server = createTcpServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      socket.destroy();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => Buffer.concat(chunks),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface JobRun {
  result: JobResult;
  reports: Map<number, StepReport>;
  log(stepIndex: number): string;
}

/** Steps given as [type, config] (named s0, s1, …); each fails the job unless it succeeds. */
export function steps(...list: Array<[string, Record<string, unknown>]>): StepSpec[] {
  return list.map(([type, config], index) => ({ index, name: `s${index}`, type, config, timeoutMs: 120_000, continueOnError: false }));
}

/** Runs a whole job as a runner would, artifacts kept in `artifactsDir`. */
export async function runJob(
  overrides: Partial<JobSpec> & Pick<JobSpec, 'runId' | 'steps'>,
  options: { policy?: RunnerPolicy; artifactsDir?: string } = {},
): Promise<JobRun> {
  const reports = new Map<number, StepReport>();
  const logs = new Map<number, string>();
  const tempArtifacts = options.artifactsDir ? undefined : await mkdtemp(join(tmpdir(), 'flowyard-isolation-'));
  try {
    const job = testJobSpec({
      workflow: `isolation-${overrides.runId}`,
      pipeline: 'main',
      jobId: `${overrides.runId}-${Math.random().toString(36).slice(2, 8)}`,
      ...overrides,
    });
    const result = await executeJob(job, {
      docker,
      reporter: {
        chunk: (index, _seq, text) => logs.set(index, (logs.get(index) ?? '') + text),
        step: (index, report) => reports.set(index, { ...reports.get(index), ...report }),
      },
      artifacts: localArtifacts(options.artifactsDir ?? tempArtifacts!),
      signal: new AbortController().signal,
      ...(options.policy ? { policy: options.policy } : {}),
    });
    return { result, reports, log: (index) => logs.get(index) ?? '' };
  } finally {
    if (tempArtifacts) await rm(tempArtifacts, { recursive: true, force: true });
  }
}

/** Image IDs carrying flowyard.run=<runId>, as `docker images --filter label=…` lists them. */
export async function imagesOfRun(runId: string): Promise<string[]> {
  return (await docker.listImages({ filters: { label: [`flowyard.run=${runId}`] } })).map((image) => image.Id);
}

/** Removes what a test's runs may have left: containers, images and networks labelled with these runs. */
export async function removeRunLeftovers(runIds: string[]): Promise<void> {
  for (const runId of runIds) {
    const label = { label: [`flowyard.run=${runId}`] };
    for (const container of await docker.listContainers({ all: true, filters: label }))
      await docker
        .getContainer(container.Id)
        .remove({ force: true })
        .catch(() => undefined);
    for (const image of await docker.listImages({ filters: label }))
      await docker
        .getImage(image.Id)
        .remove({ force: true })
        .catch(() => undefined);
    for (const network of await docker.listNetworks({ filters: label }))
      await docker
        .getNetwork(network.Id)
        .remove()
        .catch(() => undefined);
  }
}
