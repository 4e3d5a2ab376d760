import assert from 'node:assert/strict';
import type { JobSpec } from '../../runners/protocol/v1.ts';
import type { TestServer } from './server.ts';

/** A runner spoken by hand over the real runner protocol: it sends exactly what a test tells it to. */
export interface ProtocolRunner {
  token: string;
  call(method: string, path: string, body?: unknown): Promise<Response>;
  claim(): Promise<JobSpec | null>;
  step(jobId: string, index: number, report: Record<string, unknown>): Promise<void>;
  log(jobId: string, stepIndex: number, seq: number, text: string): Promise<void>;
  done(jobId: string, result: Record<string, unknown>): Promise<void>;
  release(jobId: string): Promise<void>;
}

export async function protocolRunner(server: TestServer, name: string, labels: string[]): Promise<ProtocolRunner> {
  const registered = await fetch(`${server.url}/api/runner/v1/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ registrationToken: await server.registrationToken(), name, labels }),
  });
  assert.equal(registered.status, 201, await registered.clone().text());
  const { token } = (await registered.json()) as { token: string };
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${server.url}/api/runner/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const ok = async (response: Response) => assert.ok(response.ok, `${response.url}: ${response.status} ${await response.text()}`);
  return {
    token,
    call,
    async claim() {
      const response = await call('POST', '/claim', { waitSeconds: 0 });
      if (response.status === 204) return null;
      await ok(response.clone());
      return ((await response.json()) as { job: JobSpec }).job;
    },
    step: async (jobId, index, report) => ok(await call('POST', `/jobs/${jobId}/steps/${index}`, report)),
    log: async (jobId, stepIndex, seq, text) =>
      ok(await call('POST', `/jobs/${jobId}/logs`, { chunks: [{ stepIndex, seq, data: Buffer.from(text).toString('base64') }] })),
    done: async (jobId, result) => ok(await call('POST', `/jobs/${jobId}/done`, result)),
    release: async (jobId) => ok(await call('POST', `/jobs/${jobId}/release`)),
  };
}
