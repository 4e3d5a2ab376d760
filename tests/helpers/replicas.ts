import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ensureFirstAdmin } from '../../server/services/auth.ts';
import { createRegistrationToken } from '../../server/services/runners.ts';
import { TEST_ADMIN_TOKEN } from './api.ts';
import { freshDatabase, type TestDatabase } from './db.ts';

const root = new URL('../../', import.meta.url).pathname;
const SERVICES = join(root, 'scripts/setup/services.sh');
const START_TIMEOUT_MS = 120_000;

export interface Replica {
  index: number;
  port: number;
  /** Straight to this replica, past the load balancer. */
  url: string;
  child: ChildProcess;
  /** CPU seconds (user + system) and resident memory (MiB) of the process so far. */
  usage(): { cpuSeconds: number; rssMiB: number };
  /** kill -9: the process dies with its open connections, as a crashed replica does. */
  crash(): Promise<void>;
}

export interface ReplicaSet {
  /** nginx, round robin over the replicas. */
  url: string;
  redisUrl: string;
  replicas: Replica[];
  /** The shared database, opened by the test too (for assertions and for setting up rows). */
  database: TestDatabase;
  /** Calls with the admin token, through nginx unless `base` names a replica. */
  call(method: string, path: string, body?: unknown, base?: string): Promise<Response>;
  registrationToken(labels?: string[]): Promise<string>;
  /** `flowyard runner` in its own process, talking to nginx (or to `url`). */
  startRunner(options: { name: string; labels: string[]; capacity?: number; url?: string }): Promise<RunnerProcess>;
  close(): Promise<void>;
}

export interface RunnerProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited(child);
  clearTimeout(timer);
}

/** Resolves once `child` printed `marker` on stdout; rejects when it exits first or takes too long. */
function waitForOutput(child: ChildProcess, marker: string, what: string, collected: { text: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${START_TIMEOUT_MS} ms:\n${collected.text}`)), START_TIMEOUT_MS);
    const check = () => {
      if (!collected.text.includes(marker)) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${collected.text}`));
    });
  });
}

function collect(child: ChildProcess): { text: string } {
  const collected = { text: '' };
  const append = (chunk: Buffer) => {
    collected.text += chunk.toString();
    if (collected.text.length > 200_000) collected.text = collected.text.slice(-100_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return collected;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch((error: Error) => (error.message.includes('exited') ? Promise.reject(error) : false)))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function processUsage(pid: number | undefined): { cpuSeconds: number; rssMiB: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    return { cpuSeconds: ticks / 100, rssMiB: rss };
  } catch {
    return { cpuSeconds: 0, rssMiB: 0 };
  }
}

/**
 * Redis, `count` × `flowyard serve --no-runner` on one libSQL file (and one data folder, for the built-in
 * artifact store) with FLOWYARD_PUBSUB_URL set, and nginx round robin in front, all on loopback ports; started
 * through scripts/setup/services.sh, as CI does.
 */
export async function startReplicas(options: { count?: number; env?: Record<string, string> } = {}): Promise<ReplicaSet> {
  const count = options.count ?? 3;
  execFileSync('bash', [SERVICES, 'install'], { stdio: 'inherit' });
  const work = mkdtempSync(join(tmpdir(), 'flowyard-replicas-'));
  const children: ChildProcess[] = [];
  const database = await freshDatabase('flowyard-replicas-db-');
  const cleanup = async () => {
    await Promise.all(children.map((child) => stopChild(child)));
    database.cleanup();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    await ensureFirstAdmin(database.db, { adminToken: TEST_ADMIN_TOKEN });
    const [redisPort, nginxPort, ...ports] = await Promise.all(Array.from({ length: count + 2 }, freePort));
    const redis = spawn('bash', [SERVICES, 'redis', String(redisPort), join(work, 'redis')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(redis);
    const redisOutput = collect(redis);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    await until(async () => {
      if (redis.exitCode !== null) throw new Error(`redis-server exited: ${redisOutput.text}`);
      if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect());
      return (await probe.ping()) === 'PONG';
    }, 'redis-server');
    probe.disconnect();
    const url = `http://127.0.0.1:${nginxPort}`;
    const env = {
      ...process.env,
      DATABASE_URL: `file:${database.path}`,
      FLOWYARD_PUBSUB_URL: redisUrl,
      FLOWYARD_PUBLIC_URL: url,
      FLOWYARD_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      FLOWYARD_SECRET_KEY: 'replicas-test-secret-key-0123456789abcdef',
      FLOWYARD_LOG_LEVEL: 'warn',
      ...options.env,
    };
    const replicas = await Promise.all(
      ports.map(async (port, index): Promise<Replica> => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'server/cli/main.ts', 'serve', '--no-runner', '--host', '127.0.0.1', '--port', String(port), '--data', join(work, 'data')],
          { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        children.push(child);
        const output = collect(child);
        await waitForOutput(child, 'listening on', `replica ${index}`, output);
        return {
          index,
          port,
          url: `http://127.0.0.1:${port}`,
          child,
          usage: () => processUsage(child.pid),
          crash: () => stopChild(child, 'SIGKILL'),
        };
      }),
    );
    const nginx = spawn('bash', [SERVICES, 'nginx', String(nginxPort), join(work, 'nginx'), ...ports.map((port) => `127.0.0.1:${port}`)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(nginx);
    const nginxOutput = collect(nginx);
    await until(async () => {
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginxOutput.text}`);
      return (await fetch(`${url}/readyz`)).ok;
    }, 'nginx');
    const call = (method: string, path: string, body?: unknown, base = url) =>
      fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    return {
      url,
      redisUrl,
      replicas,
      database,
      call,
      async registrationToken(labels) {
        return (await createRegistrationToken(database.db, { description: 'replicas test', labels }, null)).token;
      },
      async startRunner({ name, labels, capacity = 2, url: runnerUrl = url }) {
        const token = (await createRegistrationToken(database.db, { description: name }, null)).token;
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            'server/cli/main.ts',
            'runner',
            '--url',
            runnerUrl,
            '--token',
            token,
            '--name',
            name,
            '--labels',
            labels.join(','),
            '--capacity',
            String(capacity),
            '--config',
            join(work, `${name}.json`),
          ],
          { cwd: root, env: { ...process.env, FLOWYARD_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        children.push(child);
        const output = collect(child);
        await waitForOutput(child, 'taking jobs', `runner ${name}`, output);
        return { child, output: () => output.text, stop: () => stopChild(child) };
      },
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
