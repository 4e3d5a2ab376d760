import { createClient, type Client } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import * as schema from './schema.ts';

export type Db = LibSQLDatabase<typeof schema>;

export interface DbHandle {
  db: Db;
  client: Client;
  close(): void;
}

export const DEFAULT_DATABASE_URL = 'file:./data/flowyard.db';

/**
 * Opens `file:`, `libsql://`, `http(s)://` or `ws(s)://` URLs alike; local files get WAL and a busy timeout.
 * Foreign-key enforcement is a per-connection pragma the pooled client cannot promise, so services delete
 * dependent rows themselves instead of relying on cascades.
 */
export async function openDatabase(url: string = DEFAULT_DATABASE_URL, authToken?: string): Promise<DbHandle> {
  // Several API processes may share one database file: wait for locks rather than fail at once.
  const client = createClient({ url, authToken, timeout: 5000 });
  if (url.startsWith('file:')) await client.execute('PRAGMA journal_mode = WAL');
  const db = drizzle(client, { schema });
  return { db, client, close: () => client.close() };
}
