import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from '../../server/api/app.ts';
import { ensureFirstAdmin } from '../../server/services/auth.ts';
import { createRegistrationToken } from '../../server/services/runners.ts';
import { startLeaseSweeper } from '../../server/services/runs.ts';
import { secretsKeyFrom } from '../../server/services/secrets.ts';
import { TEST_ADMIN_TOKEN } from './api.ts';
import { freshDatabase, type TestDatabase } from './db.ts';

export interface TestServer {
  url: string;
  port: number;
  database: TestDatabase;
  call(method: string, path: string, body?: unknown): Promise<Response>;
  registrationToken(): Promise<string>;
  /** Closes the listening socket and every open connection, as a crashed API would. */
  stop(): Promise<void>;
  /** Listens again on the same port with the same database. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The real app on a real loopback port over a real database file. */
export async function startTestServer(options: { leaseMs?: number } = {}): Promise<TestServer> {
  const database = await freshDatabase();
  await ensureFirstAdmin(database.db, { adminToken: TEST_ADMIN_TOKEN });
  const secretsKey = await secretsKeyFrom('test-secret');
  let port = 0;
  let server: ServerType | undefined;
  const listen = () =>
    new Promise<void>((resolve) => {
      const app = createApp({ db: database.db, secretsKey, config: { publicUrl: `http://127.0.0.1:${port}`, adminToken: TEST_ADMIN_TOKEN, secureCookies: false, leaseMs: options.leaseMs ?? 30_000 } });
      server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info: AddressInfo) => {
        port = info.port;
        resolve();
      });
    });
  await listen();
  const stopSweeper = startLeaseSweeper(database.db, 250);
  const stop = () =>
    new Promise<void>((resolve) => {
      const s = server as unknown as { close(cb: () => void): void; closeAllConnections?: () => void };
      s.close(() => resolve());
      s.closeAllConnections?.();
    });
  const self: TestServer = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    database,
    call(method, path, body) {
      return fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
    async registrationToken() {
      return (await createRegistrationToken(database.db, { description: 'test' }, null)).token;
    },
    stop,
    restart: listen,
    async close() {
      stopSweeper();
      await stop();
      database.cleanup();
    },
  };
  return self;
}
