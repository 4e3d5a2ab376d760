/**
 * What the Worker and its Durable Objects build once per isolate: the checked settings, the libSQL client over
 * HTTP, the S3 store and the secrets key; and, per caller, the app over them with that caller's event bus.
 */
import { createClient } from '@libsql/client/web';
import { drizzle } from 'drizzle-orm/libsql';
import * as schema from '../../db/schema.ts';
import { createApp } from '../api/app.ts';
import type { AppDeps } from '../api/env.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { createS3Store } from '../services/artifacts/index.ts';
import { ensureFirstAdmin } from '../services/auth.ts';
import type { EventBus } from '../services/events.ts';
import { secretsKeyFrom } from '../services/secrets.ts';
import type { DurableObjectNamespace } from './workers-types.ts';

/** The Worker's bindings: the settings of docs/configuration.md as variables and secrets, and the two Durable Object classes. */
export interface EdgeEnv {
  RUN_EVENTS: DurableObjectNamespace;
  WORKFLOW_COLLAB: DurableObjectNamespace;
  [setting: string]: unknown;
}

type BaseDeps = Omit<AppDeps, 'events'>;

let base: Promise<BaseDeps> | undefined;

function settingsOf(env: EdgeEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

async function loadBase(env: EdgeEnv): Promise<BaseDeps> {
  const settings = settingsOf(env);
  const config = loadConfig(settings);
  const missing = ['DATABASE_URL', 'FLOWYARD_PUBLIC_URL', 'FLOWYARD_SECRET_KEY'].find((name) => !settings[name]);
  if (missing) throw new ConfigError(`on Cloudflare Workers ${missing} must be set (wrangler secret put ${missing})`);
  if (!config.artifactsUrl) throw new ConfigError('on Cloudflare Workers ARTIFACTS_URL must be an s3:// URL (S3, R2, MinIO)');
  if (!/^(libsql|https?):/.test(config.databaseUrl)) throw new ConfigError('on Cloudflare Workers DATABASE_URL must be a libsql://, https:// or http:// URL');
  const db = drizzle(createClient({ url: config.databaseUrl, authToken: config.databaseAuthToken }), { schema });
  if (config.server.adminToken) await ensureFirstAdmin(db, { adminToken: config.server.adminToken });
  return {
    db,
    secretsKey: await secretsKeyFrom(config.secretKey!),
    artifacts: createS3Store(config.artifactsUrl, config.s3Env),
    testConnection: async () => ({ ok: false, message: 'connection tests run on a Node server: Cloudflare Workers cannot open raw sockets to Docker or SSH' }),
    config: config.server,
  };
}

/** The dependencies shared by every caller in this isolate; a failed start is tried again at the next request. */
export function baseDeps(env: EdgeEnv): Promise<BaseDeps> {
  base ??= loadBase(env).catch((error: unknown) => {
    base = undefined;
    throw error;
  });
  return base;
}

export async function edgeApp(env: EdgeEnv, events: EventBus) {
  const deps: AppDeps = { ...(await baseDeps(env)), events };
  return { deps, app: createApp(deps) };
}

/** A setting the Worker cannot start without, as the JSON error every API answer uses (never a stack trace). */
export function startFailure(error: unknown): Response {
  const message = error instanceof ConfigError ? error.message : `the API could not start: ${(error as Error).message}`;
  console.error(`[edge] ${message}`);
  return Response.json({ error: { code: 'misconfigured', message } }, { status: 500 });
}
