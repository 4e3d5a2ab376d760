/**
 * The API on an edge runtime (Cloudflare Workers via wrangler.toml): the same Hono app, with a remote
 * libSQL database, S3-compatible artifacts and a cron trigger for leases, gates and schedules. What needs
 * a long-lived process stays on Node: the embedded runner, the built-in blob store, live co-editing (a
 * Durable Object per document would carry it here) and Docker connection tests. Migrations run at deploy
 * time with `drizzle-kit migrate`.
 */
import { createClient } from '@libsql/client/web';
import { drizzle } from 'drizzle-orm/libsql';
import * as schema from '../db/schema.ts';
import { createApp } from './api/app.ts';
import type { AppDeps } from './api/env.ts';
import { createS3Store } from './services/artifacts/index.ts';
import { ConfigError, loadConfig } from './config.ts';
import { expireGates } from './services/gates.ts';
import { expireLeases } from './services/runs.ts';
import { secretsKeyFrom } from './services/secrets.ts';
import { fireDueSchedules } from './services/triggers.ts';
import { createLocalEventBus } from './services/events.ts';

/** The Worker's variables and secrets: the settings of docs/configuration.md. */
type EdgeEnv = Record<string, string | undefined>;

interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

let cached: { deps: AppDeps; app: ReturnType<typeof createApp> } | undefined;

async function appFor(env: EdgeEnv) {
  if (cached) return cached;
  const config = loadConfig(env);
  const missing = ['DATABASE_URL', 'FLOWYARD_PUBLIC_URL'].find((name) => !env[name]);
  if (missing) throw new ConfigError(`on an edge runtime ${missing} must be set`);
  const { secretKey, artifactsUrl } = config;
  if (!secretKey) throw new ConfigError('on an edge runtime FLOWYARD_SECRET_KEY must be set');
  if (!artifactsUrl) throw new ConfigError('on an edge runtime ARTIFACTS_URL must be an s3:// URL (S3, R2, MinIO)');
  const db = drizzle(createClient({ url: config.databaseUrl, authToken: config.databaseAuthToken }), { schema });
  const deps: AppDeps = {
    db,
    secretsKey: await secretsKeyFrom(secretKey),
    artifacts: createS3Store(artifactsUrl, config.s3Env),
    events: createLocalEventBus(),
    testConnection: async () => ({ ok: false, message: 'connection tests run on the Node server (they need sockets)' }),
    config: config.server,
  };
  cached = { deps, app: createApp(deps) };
  return cached;
}

export default {
  async fetch(request: Request, env: EdgeEnv, context: WaitUntil): Promise<Response> {
    const { app } = await appFor(env);
    return app.fetch(request, env, context as never);
  },
  /** A cron trigger (every minute) does what the Node server's timers do. */
  async scheduled(_controller: unknown, env: EdgeEnv, context: WaitUntil): Promise<void> {
    const { deps } = await appFor(env);
    context.waitUntil(Promise.all([expireLeases(deps.db, deps.events), expireGates(deps.db, deps.events), fireDueSchedules(deps.db, deps.events)]));
  },
};
