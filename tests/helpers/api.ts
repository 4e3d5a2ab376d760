import { createApp } from '../../server/api/app.ts';
import { ensureFirstAdmin } from '../../server/services/auth.ts';
import { buildDeps } from '../../server/cli/deps.ts';
import { freshDatabase, type TestDatabase } from './db.ts';
import { createLocalEventBus, type EventBus } from '../../server/services/events.ts';

export const TEST_ADMIN_TOKEN = 'fy_test_admin_token_0123456789abcdef';

export interface TestApi {
  app: ReturnType<typeof createApp>;
  database: TestDatabase;
  /** The bus the app's services publish on, for tests that call services directly. */
  events: EventBus;
  /** Sends a request as the admin (Bearer token), JSON-encoding `body` when given. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

/** The real app over a real database file, with the first admin reachable through FLOWYARD_ADMIN_TOKEN. */
export async function testApi(options: { leaseMs?: number } = {}): Promise<TestApi> {
  const database = await freshDatabase();
  await ensureFirstAdmin(database.db, { adminToken: TEST_ADMIN_TOKEN });
  const events = createLocalEventBus();
  const app = createApp(
    await buildDeps({
      db: database.db,
      dataDir: database.dir,
      publicUrl: 'http://127.0.0.1:8080',
      adminToken: TEST_ADMIN_TOKEN,
      leaseMs: options.leaseMs,
      env: {},
      events,
    }),
  );
  return {
    app,
    database,
    events,
    call(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      return Promise.resolve(app.request(path, init));
    },
  };
}
