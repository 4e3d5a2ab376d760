/**
 * Starts the real `flowyard serve` for one test file: a fresh data folder, a free loopback port, the
 * built web app (build/, from `npx vite build`; this helper builds nothing) and no embedded runner unless
 * `{ runner: true }` (then serve's own runner takes jobs on the local Docker engine, labels linux, docker, embedded).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '../..');
const BUILD_DIR = join(REPO, 'build');
const START_TIMEOUT_MS = 30_000;
const PASSWORD_LINE = /Sign in once as (\S+) with password (\S+) and change it/;

export interface FlowyardServer {
  url: string;
  adminEmail: string;
  adminPassword: string;
  /** Accepted as the admin's API token (`Authorization: Bearer ...`). */
  adminToken: string;
  /** The server's data folder (its database is flowyard.db in it). */
  dataDir: string;
  /** Everything the server printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** `keepPrintedPassword`: leave the first admin with the printed one-time password (tests of the forced change). */
export async function startServer(options: { runner?: boolean; keepPrintedPassword?: boolean; env?: Record<string, string> } = {}): Promise<FlowyardServer> {
  if (!existsSync(join(BUILD_DIR, 'index.html'))) throw new Error(`${BUILD_DIR}/index.html is missing: run \`npx vite build\` first`);
  const dataDir = mkdtempSync(join(tmpdir(), 'flowyard-e2e-'));
  const port = await freePort();
  const adminToken = `fy_e2e_${randomBytes(16).toString('hex')}`;
  // FLOWYARD_E2E_CLI: run another entry point with the same arguments (for example a packaged build).
  const cli = process.env.FLOWYARD_E2E_CLI ?? 'server/cli/main.ts';
  const args = [cli, 'serve', '--port', String(port), '--host', '127.0.0.1', '--data', dataDir, ...(options.runner ? [] : ['--no-runner'])];
  const child = spawn(join(REPO, 'node_modules/.bin/tsx'), args, {
    cwd: REPO,
    env: { ...isolatedEnv(), ...options.env, FLOWYARD_ADMIN_TOKEN: adminToken, FLOWYARD_UI_DIR: BUILD_DIR },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopProcess(child).finally(() => rmSync(dataDir, { recursive: true, force: true }));
  try {
    await waitFor(
      async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true && PASSWORD_LINE.test(output),
      child,
      () => output,
    );
    const page = await fetch(`${url}/login`);
    if (!page.headers.get('content-type')?.includes('text/html')) {
      throw new Error(
        `${url}/login answered ${page.status} ${page.headers.get('content-type')}, not the web app: serve must mount serveUi(app, FLOWYARD_UI_DIR)`,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const [, adminEmail, printedPassword] = PASSWORD_LINE.exec(output)!;
  if (options.keepPrintedPassword) return { url, adminEmail: adminEmail!, adminPassword: printedPassword!, adminToken, dataDir, output: () => output, stop };
  const adminPassword = await replacePrintedPassword(url, adminEmail!, printedPassword!).catch(async (error) => {
    await stop();
    throw error;
  });
  return { url, adminEmail: adminEmail!, adminPassword, adminToken, dataDir, output: () => output, stop };
}

/** The printed password only lets the admin choose a new one; tests sign in with that. */
async function replacePrintedPassword(url: string, email: string, printed: string): Promise<string> {
  const login = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: printed }),
  });
  if (login.status !== 200) throw new Error(`signing in with the printed password answered ${login.status}: ${await login.text()}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const password = `e2e-${randomBytes(12).toString('hex')}`;
  const changed = await fetch(`${url}/api/auth/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, origin: url },
    body: JSON.stringify({ currentPassword: printed, newPassword: password }),
  });
  if (changed.status !== 204) throw new Error(`changing the printed password answered ${changed.status}: ${await changed.text()}`);
  return password;
}

/** This shell's environment without settings that would point the server at another database or address. */
function isolatedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'DATABASE_AUTH_TOKEN', 'FLOWYARD_PUBLIC_URL', 'FLOWYARD_DATA', 'FLOWYARD_SECRET_KEY', 'ARTIFACTS_URL', 'PORT', 'HOST'])
    delete env[name];
  return env;
}

async function waitFor(ready: () => Promise<boolean>, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`flowyard serve exited with ${child.exitCode}:\n${output()}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`flowyard serve was not ready within ${START_TIMEOUT_MS} ms:\n${output()}`);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

/** SIGTERM to the process group (tsx and the node process it starts), SIGKILL if it lingers. */
function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    kill('SIGTERM');
  });
}
