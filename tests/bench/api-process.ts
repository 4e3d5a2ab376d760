import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BENCH_ADMIN_TOKEN = 'fy_bench_admin_token_0123456789';

export interface ApiProcess {
  url: string;
  child: ChildProcess;
  /** Resident and peak resident memory of the API process, in MiB. */
  memory(): { rssMiB: number; peakMiB: number };
  call(method: string, path: string, body?: unknown): Promise<Response>;
  stop(): Promise<void>;
}

const root = new URL('../../', import.meta.url).pathname;

/** `flowyard serve` in its own process, so its memory can be read apart from the runner's. */
export async function startApiProcess(port: number): Promise<ApiProcess> {
  const data = mkdtempSync(join(tmpdir(), 'flowyard-bench-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve', '--no-runner', '--port', String(port), '--data', data], {
    cwd: root,
    env: { ...process.env, FLOWYARD_ADMIN_TOKEN: BENCH_ADMIN_TOKEN },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`flowyard serve exited with ${code}`)));
  });
  const status = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  return {
    url,
    child,
    memory: () => ({ rssMiB: status('VmRSS'), peakMiB: status('VmHWM') }),
    call: (method, path, body) =>
      fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(data, { recursive: true, force: true });
    },
  };
}
