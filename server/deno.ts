/**
 * The API on Deno: `deno serve --allow-net --allow-env --allow-read --allow-sys server/deno.ts` (deno.json
 * resolves npm packages from node_modules). The same Hono app as on Node, with a libSQL server or Turso
 * over HTTP (DATABASE_URL libsql://, https:// or http://), S3-compatible artifacts, the event bus in this
 * process, timers for leases, gate timeouts and schedules, and co-editing over Deno.upgradeWebSocket.
 * Not here: the embedded runner (run `flowyard runner` on a build host), the built-in blob store (no disk on
 * Deno Deploy), connection tests of environments (they stay on Node) and the web app (serve build/ as
 * static files). Like `flowyard serve`, it applies the committed migrations when it starts.
 */
import { createClient } from '@libsql/client/web';
import { drizzle } from 'drizzle-orm/libsql/web';
import { migrateDatabase } from '../db/migrate.ts';
import * as schema from '../db/schema.ts';
import { createApp } from './api/app.ts';
import type { AppDeps } from './api/env.ts';
import { ConfigError, loadConfig } from './config.ts';
import { COLLAB_PREFIX, denoCollab } from './deno/collab.ts';
import { denoRuntime } from './deno/runtime.ts';
import { createS3Store } from './services/artifacts/index.ts';
import { ensureFirstAdmin } from './services/auth.ts';
import { createLocalEventBus } from './services/events.ts';
import { startLeaseSweeper } from './services/runs.ts';
import { secretsKeyFrom } from './services/secrets.ts';
import { fireDueSchedules } from './services/triggers.ts';

const LEASE_SWEEP_MS = 1000;
const SCHEDULE_TICK_MS = 5000;

async function start() {
  const deno = denoRuntime();
  const env = deno.env.toObject();
  const config = loadConfig(env);
  const missing = ['DATABASE_URL', 'FLOWYARD_PUBLIC_URL', 'FLOWYARD_SECRET_KEY', 'ARTIFACTS_URL'].find((name) => !env[name]);
  if (missing) throw new ConfigError(`on Deno ${missing} must be set (docs/deploy.md, "Deno Deploy")`);
  if (!/^(libsql|https?):/.test(config.databaseUrl))
    throw new ConfigError('on Deno DATABASE_URL must be a libsql://, https:// or http:// URL (a libSQL server or Turso)');
  if (!config.artifactsUrl!.startsWith('s3://')) throw new ConfigError('on Deno ARTIFACTS_URL must be an s3:// URL (S3, R2, MinIO)');
  const db = drizzle(createClient({ url: config.databaseUrl, authToken: config.databaseAuthToken }), { schema });
  await migrateDatabase(db);
  if (config.server.adminToken) await ensureFirstAdmin(db, { adminToken: config.server.adminToken });
  const events = createLocalEventBus();
  const deps: AppDeps = {
    db,
    secretsKey: await secretsKeyFrom(config.secretKey!),
    artifacts: createS3Store(config.artifactsUrl!, config.s3Env),
    events,
    testConnection: async () => ({
      ok: false,
      message: 'connection tests run on a Node server (flowyard serve): this Deno deployment opens no SSH or Docker connections',
    }),
    config: config.server,
  };
  const logError = (what: string) => (error: Error) => console.error(`[${what}] ${error.message}`);
  startLeaseSweeper(db, events, LEASE_SWEEP_MS, logError('lease sweep'));
  setInterval(() => void fireDueSchedules(db, events).catch(logError('schedules')), SCHEDULE_TICK_MS);
  return { app: createApp(deps), collab: denoCollab(deps, deno) };
}

const started = start();
started.catch((error: Error) => console.error(`flowyard: ${error instanceof ConfigError ? error.message : `the API could not start: ${error.message}`}`));

export default {
  async fetch(request: Request): Promise<Response> {
    let server: Awaited<typeof started>;
    try {
      server = await started;
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : 'the API could not start; the error was logged';
      return Response.json({ error: { code: 'misconfigured', message } }, { status: 500 });
    }
    if (new URL(request.url).pathname.startsWith(COLLAB_PREFIX)) return server.collab(request);
    return server.app.fetch(request);
  },
};
