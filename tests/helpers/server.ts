import { createServer, type AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from '../../server/api/app.ts';
import { ensureFirstAdmin } from '../../server/services/auth.ts';
import { createRegistrationToken } from '../../server/services/runners.ts';
import { startLeaseSweeper } from '../../server/services/runs.ts';
import type { Server } from 'node:http';
import { buildDeps } from '../../server/cli/deps.ts';
import { attachCollab } from '../../server/collab/ws.ts';
import { TEST_ADMIN_TOKEN } from './api.ts';
import { freshDatabase, type TestDatabase } from './db.ts';
import type { EventBus } from '../../server/services/events.ts';

export interface TestServer {
  url: string;
  port: number;
  database: TestDatabase;
  /** The bus the server's services publish on, for tests that call services directly. */
  events: EventBus;
  call(method: string, path: string, body?: unknown): Promise<Response>;
  registrationToken(): Promise<string>;
  /** Closes the listening socket and every open connection, as a crashed API would. */
  stop(): Promise<void>;
  /** Listens again on the same port with the same database. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** The real app on a real loopback port over a real database file. */
export async function startTestServer(options: { leaseMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<TestServer> {
  const database = await freshDatabase();
  await ensureFirstAdmin(database.db, { adminToken: TEST_ADMIN_TOKEN });
  // Signed artifact URLs name the server's address, so the port is chosen before the app is built.
  const port = await freePort();
  const deps = await buildDeps({
    db: database.db,
    dataDir: database.dir,
    publicUrl: `http://127.0.0.1:${port}`,
    adminToken: TEST_ADMIN_TOKEN,
    leaseMs: options.leaseMs,
    env: options.env ?? {},
  });
  const app = createApp(deps);
  let server: ServerType | undefined;
  let collab: ReturnType<typeof attachCollab> | undefined;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve());
      collab = attachCollab(server as Server, deps);
    });
  await listen();
  const stopSweeper = startLeaseSweeper(database.db, deps.events, 250);
  const stop = async () => {
    await collab?.close();
    await new Promise<void>((resolve) => {
      const s = server as unknown as { close(cb: () => void): void; closeAllConnections?: () => void };
      s.close(() => resolve());
      s.closeAllConnections?.();
    });
  };
  const self: TestServer = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    database,
    events: deps.events,
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
