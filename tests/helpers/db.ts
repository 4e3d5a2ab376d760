import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type DbHandle } from '../../db/client.ts';
import { migrateDatabase } from '../../db/migrate.ts';

export interface TestDatabase extends DbHandle {
  dir: string;
  path: string;
  cleanup(): void;
}

/** A real, migrated libSQL database file in a fresh temp folder. */
export async function freshDatabase(prefix = 'flowyard-test-'): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'flowyard.db');
  const handle = await openDatabase(`file:${path}`);
  await migrateDatabase(handle.db);
  return {
    ...handle,
    dir,
    path,
    cleanup() {
      handle.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
