import type { SQLiteTable, SQLiteInsertValue } from 'drizzle-orm/sqlite-core';
import type { Db } from '../../db/client.ts';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * SQLite binds at most 32,766 variables per statement, and a multi-row insert binds one per column per row: a run of
 * a 5,000-step workflow would exceed it. 500 rows of up to 15 columns stay well under the limit.
 */
const ROWS_PER_STATEMENT = 500;

/** Inserts rows in statements of at most ROWS_PER_STATEMENT rows, inside the caller's transaction. */
export async function insertInBatches<T extends SQLiteTable>(tx: Tx | Db, table: T, rows: SQLiteInsertValue<T>[]): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    await tx.insert(table).values(rows.slice(start, start + ROWS_PER_STATEMENT));
  }
}
