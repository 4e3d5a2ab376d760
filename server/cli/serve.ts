import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { openDatabase } from '../../db/client.ts';
import { migrateDatabase } from '../../db/migrate.ts';
import { createApp } from '../api/app.ts';
import { ensureFirstAdmin } from '../services/auth.ts';
import { buildDeps } from './deps.ts';

export interface ServeOptions {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  runner: boolean;
}

export function parseServeArgs(args: string[], env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: env.PORT ?? '8080' },
      host: { type: 'string', default: env.HOST ?? '127.0.0.1' },
      data: { type: 'string', default: env.FLOWYARD_DATA ?? './data' },
      'no-runner': { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: "${values.port}" is not a port number`);
  const dataDir = resolve(values.data);
  return { port, host: values.host, dataDir, databaseUrl: env.DATABASE_URL ?? `file:${dataDir}/flowyard.db`, runner: !values['no-runner'] };
}

/** Starts API + UI on one port; resolves to -1 so the process stays up until a signal. */
export async function runServe(args: string[]): Promise<number> {
  const options = parseServeArgs(args);
  mkdirSync(options.dataDir, { recursive: true });
  const handle = await openDatabase(options.databaseUrl, process.env.DATABASE_AUTH_TOKEN);
  await migrateDatabase(handle.db);
  const adminToken = process.env.FLOWYARD_ADMIN_TOKEN || undefined;
  const firstAdmin = await ensureFirstAdmin(handle.db, { adminToken });
  const publicUrl = process.env.FLOWYARD_PUBLIC_URL ?? `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  const leaseMs = process.env.FLOWYARD_LEASE_MS ? Number(process.env.FLOWYARD_LEASE_MS) : undefined;
  const app = createApp(
    await buildDeps({ db: handle.db, dataDir: options.dataDir, publicUrl, adminToken, leaseMs }),
    { ui: (a) => a.use('/*', serveStatic({ root: resolve(import.meta.dirname, '../../static') })) },
  );
  const server = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, (info) => {
    const url = process.env.FLOWYARD_PUBLIC_URL ?? `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${info.port}`;
    process.stdout.write(`flowyard: listening on ${url} (database ${redactUrl(options.databaseUrl)})\n`);
    if (firstAdmin.created) {
      process.stdout.write(`flowyard: created the first admin. Sign in once as ${firstAdmin.email} with password ${firstAdmin.password} and change it; it is not shown again.\n`);
    }
    if (!options.runner) process.stdout.write('flowyard: embedded runner disabled (--no-runner)\n');
  });
  const stop = () => {
    server.close(() => {
      handle.close();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
