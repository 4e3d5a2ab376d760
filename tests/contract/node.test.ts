import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { childEnv, freePort, ROOT, stopProcess, waitForOutput } from './services.ts';
import { defineContractSuite } from './suite.ts';

/** `flowyard serve --no-runner` in its own process, on the suite's database and bucket. */
defineContractSuite({
  runtime: 'node',
  async start(services) {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'server/cli/main.ts', 'serve', '--no-runner', '--port', String(port), '--data', join(services.dir, 'node-data')],
      {
        cwd: ROOT,
        env: childEnv({ ...services.env, FLOWYARD_PUBLIC_URL: baseUrl, FLOWYARD_LOG_LEVEL: 'warn' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await waitForOutput(child, 'listening on', 'flowyard serve');
    return { baseUrl, wsUrl: `ws://127.0.0.1:${port}`, stop: () => stopProcess(child) };
  },
});
