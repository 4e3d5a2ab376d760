import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { startRunner, type RunningRunner } from '../../runners/daemon/daemon.ts';
import type { TestServer } from './server.ts';

export const docker = createDockerClient();

export async function json(response: Response): Promise<any> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${response.status}): ${text.slice(0, 300)}`);
  }
}

/** Creates and publishes a workflow; returns its id. */
export async function publishWorkflow(server: TestServer, name: string, yaml: string): Promise<string> {
  const created = await server.call('POST', '/api/workflows', { name, yaml });
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = await created.json();
  const published = await server.call('POST', `/api/workflows/${id}/publish`);
  assert.equal(published.status, 200, await published.clone().text());
  return id;
}

export async function startRun(server: TestServer, workflowId: string, inputs: Record<string, unknown> = {}): Promise<any> {
  const response = await server.call('POST', `/api/workflows/${workflowId}/runs`, { inputs });
  assert.equal(response.status, 201, await response.clone().text());
  return response.json();
}

export async function waitForRun(server: TestServer, runId: string, done: (run: any) => boolean, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await json(await server.call('GET', `/api/runs/${runId}`));
    if (done(run)) return run;
    if (Date.now() > deadline)
      throw new Error(
        `run ${runId} still ${run.state} after ${timeoutMs} ms: ${JSON.stringify(run.steps.map((s: any) => [s.name, s.state, s.error ?? null]))}; jobs ${JSON.stringify(run.jobs?.map((j: any) => [j.state, j.error ?? null]))}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const finished = (run: any) => ['succeeded', 'succeeded_with_warnings', 'failed', 'cancelled', 'timed_out'].includes(run.state);

export async function rawLog(server: TestServer, runId: string, step: string): Promise<string> {
  const response = await server.call('GET', `/api/runs/${runId}/logs?step=${encodeURIComponent(step)}`);
  assert.equal(response.status, 200);
  return response.text();
}

/** A runner registered with `server`; `url` is where it then talks to the API (a proxy, say). */
export async function runnerFor(server: TestServer, name: string, labels = ['linux', 'docker'], capacity = 1, url = server.url): Promise<RunningRunner> {
  return startRunner({
    url,
    registrationToken: await server.registrationToken(),
    name,
    labels,
    capacity,
    configPath: join(tmpdir(), `flowyard-runner-${name}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`),
    docker,
  });
}

export async function managedContainers(runId: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`flowyard.run=${runId}`] } });
  return list.length;
}
