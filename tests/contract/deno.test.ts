import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { childEnv, freePort, ROOT, stopProcess, waitForOutput } from './services.ts';
import { defineContractSuite } from './suite.ts';

/** The Deno CLI installed from npm; offline: npm packages come from node_modules (deno.json), nothing remote is fetched. */
export const DENO = join(ROOT, 'node_modules/.bin/deno');
export const DENO_PERMISSIONS = ['--allow-net', '--allow-env', '--allow-read', '--allow-sys'];

/** `deno serve server/deno.ts` in its own process, on the suite's database and bucket. */
defineContractSuite({
  runtime: 'deno',
  async start(services) {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const child = spawn(DENO, ['serve', '--no-remote', '--cached-only', ...DENO_PERMISSIONS, '--host', '127.0.0.1', '--port', String(port), 'server/deno.ts'], {
      cwd: ROOT,
      env: childEnv({ ...services.env, FLOWYARD_PUBLIC_URL: baseUrl, DENO_DIR: join(services.dir, 'deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForOutput(child, 'Listening on', 'deno serve');
    return { baseUrl, wsUrl: `ws://127.0.0.1:${port}`, stop: () => stopProcess(child) };
  },
});

test('deno serve without DATABASE_URL answers every request with a JSON 500 naming the setting, and logs one line', async () => {
  const port = await freePort();
  const child = spawn(DENO, ['serve', '--no-remote', '--cached-only', ...DENO_PERMISSIONS, '--host', '127.0.0.1', '--port', String(port), 'server/deno.ts'], {
    cwd: ROOT,
    env: childEnv({ FLOWYARD_PUBLIC_URL: `http://127.0.0.1:${port}`, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitForOutput(child, 'Listening on', 'deno serve');
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), { error: { code: 'misconfigured', message: 'on Deno DATABASE_URL must be set (docs/deploy.md, "Deno Deploy")' } });
    assert.match(output, /^flowyard: on Deno DATABASE_URL must be set/m);
  } finally {
    await stopProcess(child);
  }
});
