import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

/** The path of a local database file URL (`file:./x.db`, `file:/abs/x.db`, `file:///abs/x.db`); null for others. */
export function databaseFilePath(url: string): string | null {
  if (!url.startsWith('file:')) return null;
  const path = url.startsWith('file://') ? fileURLToPath(url.split('?')[0]!) : url.slice('file:'.length).split('?')[0]!;
  return path === '' || path === ':memory:' ? null : resolve(path);
}

/**
 * The database holds password hashes, token hashes and encrypted secrets: its file is created 0600 before
 * libSQL opens it (SQLite gives the -wal and -shm files the mode of the database file), and a folder that
 * is new or empty, i.e. a fresh data folder, is made 0700. A folder already holding other files is left
 * as it is: the database may live in a shared folder the operator chose.
 */
function preparePrivateFile(path: string): void {
  const folder = dirname(path);
  if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: PRIVATE_DIR });
  if (readdirSync(folder).length === 0) chmodSync(folder, PRIVATE_DIR);
  if (!existsSync(path)) closeSync(openSync(path, 'a', PRIVATE_FILE));
}

/** Tightens the database and its WAL files, also for files an older version created 0644. */
function restrictDatabaseFiles(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file)) chmodSync(file, PRIVATE_FILE);
  }
}

/**
 * Opens `file:`, `libsql://`, `http(s)://` or `ws(s)://` URLs alike; local files get WAL and a busy timeout.
 * Foreign-key enforcement is a per-connection pragma the pooled client cannot promise, so services delete
 * dependent rows themselves instead of relying on cascades.
 */
export async function openDatabase(url: string = DEFAULT_DATABASE_URL, authToken?: string): Promise<DbHandle> {
  const file = databaseFilePath(url);
  if (file) preparePrivateFile(file);
  // Several API processes may share one database file: wait for locks rather than fail at once.
  const client = createClient({ url, authToken, timeout: 5000 });
  if (url.startsWith('file:')) await client.execute('PRAGMA journal_mode = WAL');
  if (file) restrictDatabaseFiles(file);
  const db = drizzle(client, { schema });
  return { db, client, close: () => client.close() };
}
