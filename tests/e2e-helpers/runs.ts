/** Workflows and runs through the API with the admin token, and the text of the run page's xterm. */
import { expect, type Page } from '@playwright/test';
import type { FlowyardServer } from './server.ts';

export interface RunJson {
  id: string;
  state: string;
  steps: Array<{ name: string; state: string; logBytes: number }>;
}

export async function api(server: FlowyardServer, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function json<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** Creates, publishes and starts a workflow; returns the workflow id and the queued run. */
export async function startWorkflow(server: FlowyardServer, name: string, yaml: string): Promise<{ workflowId: string; run: RunJson }> {
  const { id } = await json<{ id: string }>(await api(server, 'POST', '/api/workflows', { name, yaml }), 201);
  await json(await api(server, 'POST', `/api/workflows/${id}/publish`), 200);
  const run = await json<RunJson>(await api(server, 'POST', `/api/workflows/${id}/runs`, {}), 201);
  return { workflowId: id, run };
}

export async function getRun(server: FlowyardServer, runId: string): Promise<RunJson> {
  return json<RunJson>(await api(server, 'GET', `/api/runs/${runId}`), 200);
}

export async function waitForRun(server: FlowyardServer, runId: string, done: (run: RunJson) => boolean, timeoutMs = 60_000): Promise<RunJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(server, runId);
    if (done(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.state}: ${JSON.stringify(run.steps.map((s) => [s.name, s.state]))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function rawLog(server: FlowyardServer, runId: string, step: string): Promise<string> {
  const response = await api(server, 'GET', `/api/runs/${runId}/logs?step=${encodeURIComponent(step)}`);
  expect(response.status).toBe(200);
  return response.text();
}

/** Waits until serve's embedded runner has registered and is online. */
export async function waitForEmbeddedRunner(server: FlowyardServer, timeoutMs = 30_000): Promise<void> {
  await expect
    .poll(async () => (await json<{ runners: Array<{ online: boolean }> }>(await api(server, 'GET', '/api/runners'), 200)).runners.some((r) => r.online), {
      timeout: timeoutMs,
      message: `no embedded runner came online:\n${server.output()}`,
    })
    .toBe(true);
}

/**
 * Every line xterm holds (wrapped rows joined), without the empty rows below the last line; empty while the
 * page has not attached its terminal yet, so polls keep waiting instead of failing.
 */
export async function terminalText(page: Page): Promise<string> {
  return page.locator('[data-log-terminal]').evaluate((element) => {
    const terminal = (element as HTMLElement & { terminal?: import('@xterm/xterm').Terminal }).terminal;
    if (!terminal) return '';
    const buffer = terminal.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i += 1) {
      const line = buffer.getLine(i)!;
      const text = line.translateToString(true);
      if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += text;
      else lines.push(text);
    }
    return lines.join('\n').replace(/\n+$/, '');
  });
}
