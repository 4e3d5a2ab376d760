/**
 * The SQL half of the Hrana stand-in (tests/helpers/hrana-standin.ts): Hrana statements, batches and values
 * run on one libSQL connection. Values follow Hrana's JSON encoding: integers as decimal strings (64 bits),
 * floats as JSON numbers, blobs as base64, text as strings.
 */
import Database from 'libsql';

export type Connection = InstanceType<typeof Database>;

export type HranaValue =
  { type: 'null' } | { type: 'integer'; value: string } | { type: 'float'; value: number } | { type: 'text'; value: string } | { type: 'blob'; base64: string };

export interface HranaStmt {
  sql?: string;
  sql_id?: number;
  args?: HranaValue[];
  named_args?: { name: string; value: HranaValue }[];
  want_rows?: boolean;
}

export type HranaCond =
  { type: 'ok' | 'error'; step: number } | { type: 'not'; cond: HranaCond } | { type: 'and' | 'or'; conds: HranaCond[] } | { type: 'is_autocommit' };

export interface HranaBatch {
  steps: { condition?: HranaCond | null; stmt: HranaStmt }[];
}

export interface StmtResult {
  cols: { name: string; decltype: string | null }[];
  rows: HranaValue[][];
  affected_row_count: number;
  last_insert_rowid: string | null;
}

/** An error sent to the client as Hrana's `{ message, code }`. */
export class HranaError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const BUSY = 5;
const BUSY_SNAPSHOT = 517;
const BUSY_WAIT_MS = 5000;

/** SQLite errors keep their message; the code is the base result code's name, as libSQL's local driver reports it. */
export function toHranaError(error: unknown): HranaError {
  if (error instanceof HranaError) return error;
  if (error instanceof Database.SqliteError) {
    const rawCode = (error as { rawCode?: number }).rawCode ?? 1;
    const base = String(error.code).match(/^SQLITE_[A-Z]+/)?.[0] ?? `SQLITE_${rawCode & 0xff}`;
    return new HranaError(error.message, base);
  }
  return new HranaError(error instanceof Error ? error.message : String(error), 'PROTO_ERROR');
}

function isPlainBusy(error: unknown): boolean {
  const rawCode = (error as { rawCode?: number }).rawCode;
  return error instanceof Database.SqliteError && rawCode !== undefined && (rawCode & 0xff) === BUSY && rawCode !== BUSY_SNAPSHOT;
}

/** Connections left with a statement SQLite could not reset (it gave up waiting on BUSY): closed, never pooled. */
const stuck = new WeakSet<Connection>();

export function isStuck(conn: Connection): boolean {
  return stuck.has(conn);
}

/**
 * Connections have no busy handler (a synchronous wait would block every other stream of this process,
 * including the one holding the lock); a statement that meets a held write lock is retried here instead,
 * as a libSQL server queues writers. `work` must re-run the SAME prepared statement: a statement that got
 * SQLITE_BUSY stays "in progress" until it is run again, and would make a later COMMIT on the connection
 * fail. A stale snapshot (BUSY_SNAPSHOT) cannot succeed by waiting and fails at once.
 */
export async function withBusyRetry<T>(conn: Connection, work: () => T): Promise<T> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    try {
      return work();
    } catch (error) {
      if (!isPlainBusy(error)) throw toHranaError(error);
      if (Date.now() > deadline) {
        stuck.add(conn);
        throw toHranaError(error);
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

function fromHrana(value: HranaValue): unknown {
  switch (value.type) {
    case 'null':
      return null;
    case 'integer':
      return BigInt(value.value);
    case 'float':
      return Number(value.value);
    case 'text':
      return value.value;
    case 'blob':
      return Buffer.from(value.base64, 'base64');
    default:
      throw new HranaError(`unknown value type ${JSON.stringify((value as { type: unknown }).type)}`, 'PROTO_ERROR');
  }
}

export function toHrana(value: unknown): HranaValue {
  if (value === null || value === undefined) return { type: 'null' };
  if (typeof value === 'bigint') return { type: 'integer', value: value.toString() };
  if (typeof value === 'number') return { type: 'float', value };
  if (typeof value === 'string') return { type: 'text', value };
  if (value instanceof Uint8Array) return { type: 'blob', base64: Buffer.from(value).toString('base64') };
  throw new HranaError(`cannot encode a ${typeof value} result value`, 'PROTO_ERROR');
}

function bindings(stmt: HranaStmt): unknown[] | Record<string, unknown> {
  if (!stmt.named_args?.length) return (stmt.args ?? []).map(fromHrana);
  // libSQL binds `:name`, `@name` and `$name` by the bare name.
  return Object.fromEntries(stmt.named_args.map(({ name, value }) => [name.replace(/^[:@$]/, ''), fromHrana(value)]));
}

function changeCounters(conn: Connection): { total: bigint; changes: bigint; rowid: bigint } {
  const [total, changes, rowid] = conn.prepare('SELECT total_changes(), changes(), last_insert_rowid()').safeIntegers(true).raw(true).get() as bigint[];
  return { total: total!, changes: changes!, rowid: rowid! };
}

/** The SQL text of a statement, given inline or stored earlier on the stream with `store_sql`. */
export function sqlText(stmt: { sql?: string | null; sql_id?: number | null }, stored: Map<number, string>): string {
  if (typeof stmt.sql === 'string') return stmt.sql;
  if (typeof stmt.sql_id === 'number') {
    const text = stored.get(stmt.sql_id);
    if (text === undefined) throw new HranaError(`SQL text ${stmt.sql_id} was not stored on this stream`, 'SQL_NOT_FOUND');
    return text;
  }
  throw new HranaError('a statement needs `sql` or `sql_id`', 'PROTO_ERROR');
}

/** Runs one statement; the affected row count counts only rows this statement changed (not a stale count after DDL). */
export async function executeStmt(conn: Connection, stmt: HranaStmt, stored: Map<number, string>): Promise<StmtResult> {
  const prepared = conn.prepare(sqlText(stmt, stored)).safeIntegers(true);
  const reader = prepared.reader;
  if (reader) prepared.raw(true);
  const cols = reader ? prepared.columns().map((col) => ({ name: col.name, decltype: col.type })) : [];
  const args = bindings(stmt);
  const before = changeCounters(conn);
  const all = await withBusyRetry(conn, () => (reader ? (prepared.all(args) as unknown[][]) : (prepared.run(args), [])));
  const after = changeCounters(conn);
  const changed = after.total !== before.total;
  return {
    cols,
    rows: stmt.want_rows === false ? [] : all.map((row) => row.map(toHrana)),
    affected_row_count: changed ? Number(after.changes) : 0,
    last_insert_rowid: changed ? after.rowid.toString() : null,
  };
}

/** A script of statements (`sequence`); retried on BUSY only while none of it has changed anything yet. */
export async function executeSequence(conn: Connection, sql: string): Promise<void> {
  const before = changeCounters(conn).total;
  await withBusyRetry(conn, () => {
    try {
      conn.exec(sql);
    } catch (error) {
      if (changeCounters(conn).total !== before) throw toHranaError(error);
      throw error;
    }
  });
}

function holds(cond: HranaCond | null | undefined, outcomes: ('ok' | 'error' | undefined)[], conn: Connection): boolean {
  if (!cond) return true;
  switch (cond.type) {
    case 'ok':
      return outcomes[cond.step] === 'ok';
    case 'error':
      return outcomes[cond.step] === 'error';
    case 'not':
      return !holds(cond.cond, outcomes, conn);
    case 'and':
      return cond.conds.every((c) => holds(c, outcomes, conn));
    case 'or':
      return cond.conds.some((c) => holds(c, outcomes, conn));
    case 'is_autocommit':
      return !conn.inTransaction;
    default:
      throw new HranaError(`unknown batch condition ${JSON.stringify((cond as { type: unknown }).type)}`, 'PROTO_ERROR');
  }
}

/** Steps run in order; a step whose condition fails is skipped (null result and null error), as in Hrana. */
export async function executeBatch(conn: Connection, batch: HranaBatch, stored: Map<number, string>) {
  const outcomes: ('ok' | 'error' | undefined)[] = [];
  const step_results: (StmtResult | null)[] = [];
  const step_errors: ({ message: string; code: string } | null)[] = [];
  for (const step of batch.steps) {
    if (!holds(step.condition, outcomes, conn)) {
      outcomes.push(undefined);
      step_results.push(null);
      step_errors.push(null);
      continue;
    }
    try {
      step_results.push(await executeStmt(conn, step.stmt, stored));
      step_errors.push(null);
      outcomes.push('ok');
    } catch (error) {
      const { message, code } = toHranaError(error);
      step_results.push(null);
      step_errors.push({ message, code });
      outcomes.push('error');
    }
  }
  return { step_results, step_errors };
}
