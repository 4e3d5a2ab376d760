/**
 * The shared services of a contract suite run: a Hrana stand-in for the database (migrated, with the first
 * admin), s3rver for artifacts, and a real runner daemon process (`flowyard runner`) that the suite starts
 * once the API is up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../db/client.ts';
import { migrateDatabase } from '../../db/migrate.ts';
import { ensureFirstAdmin } from '../../server/services/auth.ts';
import { startHranaStandin } from '../helpers/hrana-standin.ts';
import { S3_CREDENTIALS, startS3 } from '../helpers/s3.ts';
import type { ContractServices } from './target.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
/** Runners lose a job 3 s after their last renewal: short enough for a suite, long enough for a loaded machine. */
const LEASE_MS = '5000';

export interface RunningServices extends ContractServices {
  close(): Promise<void>;
}

export async function startServices(runtime: string): Promise<RunningServices> {
  const dir = mkdtempSync(join(tmpdir(), `flowyard-contract-${runtime}-`));
  const databaseAuthToken = randomBytes(16).toString('hex');
  const database = await startHranaStandin({ file: join(dir, 'flowyard.db'), authToken: databaseAuthToken });
  const s3 = await startS3(`contract-${runtime}`);
  const adminToken = `fy_contract_admin_${randomBytes(16).toString('hex')}`;
  const secretKey = randomBytes(32).toString('base64url');
  const handle = await openDatabase(database.url, databaseAuthToken);
  await migrateDatabase(handle.db);
  await ensureFirstAdmin(handle.db, { adminToken });
  handle.close();
  return {
    dir,
    databaseUrl: database.url,
    databaseAuthToken,
    artifactsUrl: s3.url,
    adminToken,
    secretKey,
    env: {
      DATABASE_URL: database.url,
      DATABASE_AUTH_TOKEN: databaseAuthToken,
      ARTIFACTS_URL: s3.url,
      ...S3_CREDENTIALS,
      AWS_REGION: 'us-east-1',
      FLOWYARD_ADMIN_TOKEN: adminToken,
      FLOWYARD_SECRET_KEY: secretKey,
      FLOWYARD_LEASE_MS: LEASE_MS,
    },
    async close() {
      await s3.close();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

/** Resolves once `child` printed `marker` (stdout or stderr); kills it and rejects with its output if it exits first or takes longer than `ms`. */
export function waitForOutput(child: ChildProcess, marker: string, what: string, ms = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within ${ms} ms:\n${output}`));
    }, ms);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${output}`));
    };
    let started = false;
    // The pipes stay drained after the start, or a chatty child would block on a full pipe.
    const onData = (chunk: Buffer) => {
      if (started) return;
      output += chunk.toString();
      if (!output.includes(marker)) return;
      started = true;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(output);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A child process's environment: PATH, HOME and DOCKER_HOST of this one (no Flowyard settings it may have), plus `settings`. */
export function childEnv(settings: Record<string, string>): Record<string, string> {
  const inherited = Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_HOST: process.env.DOCKER_HOST }).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  return { ...Object.fromEntries(inherited), ...settings };
}

/** `flowyard runner` in its own process, registered with the API at `baseUrl`. */
export async function startRunnerProcess(baseUrl: string, registrationToken: string, name: string, dir: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'server/cli/main.ts',
      'runner',
      '--url',
      baseUrl,
      '--token',
      registrationToken,
      '--name',
      name,
      '--labels',
      'linux,docker',
      '--config',
      join(dir, `${name}.json`),
    ],
    { cwd: ROOT, env: childEnv({ FLOWYARD_LOG_LEVEL: 'warn' }), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await waitForOutput(child, 'taking jobs from', `the runner ${name}`);
  return child;
}
