/**
 * A STAND-IN for a libSQL server (sqld), for tests only. No libSQL server can be installed on this machine
 * (neither npm nor Debian ships `sqld`), so the network database path (`DATABASE_URL=http://...`) is tested
 * against this: an HTTP server speaking the part of the Hrana-over-HTTP protocol that `@libsql/client`
 * 0.18 (hrana-client 0.10) uses for `http://` and `libsql://` URLs, backed by a libSQL file.
 *
 * What the client speaks (node_modules/@libsql/hrana-client/lib-esm/http): protocol version 2 over JSON,
 * `POST /v2/pipeline` with `{ baton, requests }`; it never probes for v3 unless asked to. Requests: `execute`,
 * `batch` (steps with `ok`/`error`/`not`/`and`/`or` conditions; `is_autocommit` from v3), `sequence`,
 * `store_sql`/`close_sql` (the client's per-stream SQL cache), `get_autocommit` (v3) and `close`. `describe`
 * has no caller in @libsql/client and is answered with an error. `/v3/pipeline` (JSON) is served by the same
 * code; `/v3-protobuf` is not, so a v3 client falls back to v2 as it would against an old server.
 *
 * A stream is one libSQL connection. A pipeline that leaves the stream open is answered with a fresh
 * baton, the only key to the next request (each baton is used once); an interactive transaction therefore
 * keeps its connection and its locks across HTTP requests. A stream idle for `streamExpiryMs` (10 s, as
 * sqld) is rolled back and closed. The connections come from libSQL's native driver (`libsql`, the engine
 * of @libsql/client's local `file:` driver), which tells whether a connection is inside a transaction.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'libsql';
import {
  type Connection,
  executeBatch,
  executeSequence,
  executeStmt,
  HranaError,
  type HranaBatch,
  type HranaStmt,
  isStuck,
  sqlText,
  toHranaError,
} from './hrana-sql.ts';

export interface HranaStandinOptions {
  /** The libSQL database file (created when missing). */
  file: string;
  /** When set, every request must carry `Authorization: Bearer <authToken>` (DATABASE_AUTH_TOKEN). */
  authToken?: string;
  streamExpiryMs?: number;
}

export interface HranaStandin {
  /** `http://127.0.0.1:<port>`: a DATABASE_URL. */
  url: string;
  port: number;
  /** Streams currently open (each holds a connection). */
  openStreams(): number;
  /** Pipeline requests served so far. */
  pipelines(): number;
  close(): Promise<void>;
}

interface Stream {
  conn: Connection;
  sqls: Map<number, string>;
  expiry?: NodeJS.Timeout;
}

type StreamRequest =
  | { type: 'close' }
  | { type: 'execute'; stmt: HranaStmt }
  | { type: 'batch'; batch: HranaBatch }
  | { type: 'sequence'; sql?: string | null; sql_id?: number | null }
  | { type: 'describe'; sql?: string | null; sql_id?: number | null }
  | { type: 'store_sql'; sql_id: number; sql: string }
  | { type: 'close_sql'; sql_id: number }
  | { type: 'get_autocommit' };

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const IDLE_CONNECTIONS = 8;

export async function startHranaStandin(options: HranaStandinOptions): Promise<HranaStandin> {
  const expiryMs = options.streamExpiryMs ?? 10_000;
  const streams = new Map<string, Stream>();
  const idle: Connection[] = [];
  let pipelineCount = 0;

  const setup = new Database(options.file, { timeout: 0 });
  setup.exec('PRAGMA journal_mode = WAL');
  setup.close();

  function connect(): Connection {
    return idle.pop() ?? new Database(options.file, { timeout: 0 });
  }

  /** A connection goes back to the pool only as a fresh one would be: no open transaction, foreign keys at SQLite's default. */
  function release(conn: Connection): void {
    try {
      if (isStuck(conn)) throw new Error('stuck');
      if (conn.inTransaction) conn.exec('ROLLBACK');
      conn.exec('PRAGMA foreign_keys = OFF');
      if (idle.length < IDLE_CONNECTIONS) return void idle.push(conn);
    } catch {
      // an unusable connection is dropped
    }
    conn.close();
  }

  function closeStream(stream: Stream): void {
    clearTimeout(stream.expiry);
    release(stream.conn);
  }

  function park(stream: Stream): string {
    const baton = randomBytes(18).toString('base64url');
    stream.expiry = setTimeout(() => {
      streams.delete(baton);
      closeStream(stream);
    }, expiryMs);
    stream.expiry.unref();
    streams.set(baton, stream);
    return baton;
  }

  async function handle(stream: Stream, request: StreamRequest): Promise<Record<string, unknown>> {
    switch (request.type) {
      case 'execute':
        return { type: 'execute', result: await executeStmt(stream.conn, request.stmt, stream.sqls) };
      case 'batch':
        return { type: 'batch', result: await executeBatch(stream.conn, request.batch, stream.sqls) };
      case 'sequence': {
        await executeSequence(stream.conn, sqlText(request, stream.sqls));
        return { type: 'sequence' };
      }
      case 'store_sql':
        stream.sqls.set(request.sql_id, request.sql);
        return { type: 'store_sql' };
      case 'close_sql':
        stream.sqls.delete(request.sql_id);
        return { type: 'close_sql' };
      case 'get_autocommit':
        return { type: 'get_autocommit', is_autocommit: !stream.conn.inTransaction };
      case 'describe':
        throw new HranaError('describe is not implemented by the Hrana stand-in (no caller in @libsql/client)', 'NOT_SUPPORTED');
      default:
        throw new HranaError(`unknown stream request type ${JSON.stringify((request as { type: unknown }).type)}`, 'PROTO_ERROR');
    }
  }

  async function pipeline(body: { baton?: string | null; requests?: StreamRequest[] }) {
    if (!Array.isArray(body.requests)) throw new HranaError('the body needs a `requests` array', 'PROTO_ERROR');
    let stream: Stream;
    if (body.baton) {
      const found = streams.get(body.baton);
      if (!found) throw new HranaError('the baton is unknown: the stream expired or was closed', 'STREAM_EXPIRED');
      streams.delete(body.baton);
      clearTimeout(found.expiry);
      stream = found;
    } else {
      stream = { conn: connect(), sqls: new Map() };
    }
    pipelineCount += 1;
    const results: unknown[] = [];
    let closed = false;
    for (const request of body.requests) {
      if (closed) {
        results.push({ type: 'error', error: { message: 'the stream is closed', code: 'STREAM_CLOSED' } });
        continue;
      }
      if (request?.type === 'close') {
        closed = true;
        results.push({ type: 'ok', response: { type: 'close' } });
        continue;
      }
      try {
        results.push({ type: 'ok', response: await handle(stream, request) });
      } catch (error) {
        const { message, code } = toHranaError(error);
        results.push({ type: 'error', error: { message, code } });
      }
    }
    if (closed) {
      closeStream(stream);
      return { baton: null, base_url: null, results };
    }
    return { baton: park(stream), base_url: null, results };
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
    res.end(text);
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw new HranaError('the request body is too large', 'PROTO_ERROR');
      chunks.push(chunk as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw new HranaError('the request body is not JSON', 'PROTO_ERROR');
    }
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://standin').pathname;
    if (options.authToken !== undefined && req.headers.authorization !== `Bearer ${options.authToken}`) {
      return send(res, 401, { message: 'the Authorization header does not carry the database token', code: 'AUTH_FAILED' });
    }
    if (req.method === 'GET' && ['/', '/health', '/v2', '/v3'].includes(path)) return send(res, 200, 'Hrana stand-in (tests/helpers/hrana-standin.ts)');
    if (req.method !== 'POST' || (path !== '/v2/pipeline' && path !== '/v3/pipeline')) return send(res, 404, `no route for ${req.method} ${path}`);
    readJson(req)
      .then((body) => pipeline(body as Parameters<typeof pipeline>[0]))
      .then(
        (answer) => send(res, 200, answer),
        (error) => send(res, 400, { message: toHranaError(error).message, code: toHranaError(error).code }),
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    openStreams: () => streams.size,
    pipelines: () => pipelineCount,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      for (const stream of streams.values()) closeStream(stream);
      streams.clear();
      for (const conn of idle.splice(0)) conn.close();
    },
  };
}
