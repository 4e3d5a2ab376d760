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
import { expireGates } from './services/gates.ts';
import { DEFAULT_LEASE_MS, expireLeases } from './services/runs.ts';
import { secretsKeyFrom } from './services/secrets.ts';
import { fireDueSchedules } from './services/triggers.ts';
import { createLocalEventBus } from './services/events.ts';

interface EdgeEnv {
  DATABASE_URL: string;
  DATABASE_AUTH_TOKEN?: string;
  FLOWYARD_SECRET_KEY: string;
  FLOWYARD_PUBLIC_URL: string;
  FLOWYARD_ADMIN_TOKEN?: string;
  ARTIFACTS_URL: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
}

interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

let cached: { deps: AppDeps; app: ReturnType<typeof createApp> } | undefined;

async function appFor(env: EdgeEnv) {
  if (cached) return cached;
  if (!env.ARTIFACTS_URL?.startsWith('s3://')) throw new Error('on an edge runtime ARTIFACTS_URL must be an s3:// URL (S3, R2, MinIO)');
  const db = drizzle(createClient({ url: env.DATABASE_URL, authToken: env.DATABASE_AUTH_TOKEN }), { schema });
  const deps: AppDeps = {
    db,
    secretsKey: await secretsKeyFrom(env.FLOWYARD_SECRET_KEY),
    artifacts: createS3Store(env.ARTIFACTS_URL, { AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY }),
    events: createLocalEventBus(),
    testConnection: async () => ({ ok: false, message: 'connection tests run on the Node server (they need sockets)' }),
    config: { publicUrl: env.FLOWYARD_PUBLIC_URL, adminToken: env.FLOWYARD_ADMIN_TOKEN, secureCookies: env.FLOWYARD_PUBLIC_URL.startsWith('https:'), leaseMs: DEFAULT_LEASE_MS },
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
