/**
 * The server's Prometheus metrics (docs/operations.md lists them). One registry per server, injected through
 * AppDeps, so two test servers in one process never share series. What the database knows (runs by state,
 * queue depth, online runners, stored artifact bytes) is read at scrape time; what passes through this
 * process (log bytes, claims, connections, HTTP requests) is counted as it happens.
 */
import { sql } from 'drizzle-orm';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../../db/client.ts';
import { runStates } from '../../db/schema.ts';
import type { EventBus } from './events.ts';
import { RUNNER_OFFLINE_AFTER_MS } from './runners.ts';

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const QUEUE_WAIT_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Jobs queued while this process watched; a claim elsewhere leaves its entry, so the map is bounded. */
const MAX_TRACKED_QUEUED = 10_000;

export interface ServerMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  sseConnections: Gauge;
  collabConnections: Gauge;
  /** Records how long a job waited in the queue before this claim; never throws. */
  jobClaimed(jobId: string): Promise<void>;
  /** Stops listening to the event bus. */
  close(): void;
}

/** The label set a job asks for (`runs_on`), as one label value: sorted, comma-separated. */
export function labelSetOf(runsOn: unknown): string {
  return Array.isArray(runsOn) ? [...runsOn].map(String).sort().join(',') : '';
}

export function createServerMetrics(db: Db, events: EventBus): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];

  new Gauge({
    name: 'flowyard_runs',
    help: 'Runs in the database by state.',
    labelNames: ['state'],
    registers,
    async collect() {
      const rows = await db.all<{ state: string; n: number }>(sql`SELECT state, count(*) AS n FROM runs GROUP BY state`);
      const counts = new Map(rows.map((r) => [r.state, Number(r.n)]));
      this.reset();
      for (const state of runStates) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new Gauge({
    name: 'flowyard_queue_depth',
    help: 'Jobs waiting for a runner, by the label set they ask for (runs_on).',
    labelNames: ['labels'],
    registers,
    async collect() {
      const rows = await db.all<{ runs_on: string; n: number }>(sql`SELECT runs_on, count(*) AS n FROM jobs WHERE state = 'queued' GROUP BY runs_on`);
      this.reset();
      for (const row of rows) this.inc({ labels: labelSetOf(JSON.parse(row.runs_on)) }, Number(row.n));
    },
  });
  new Gauge({
    name: 'flowyard_runners_online',
    help: `Registered, unrevoked runners seen in the last ${RUNNER_OFFLINE_AFTER_MS / 1000} s.`,
    registers,
    async collect() {
      const since = Date.now() - RUNNER_OFFLINE_AFTER_MS;
      const [row] = await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM runners WHERE revoked_at IS NULL AND last_seen_at >= ${since}`);
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'flowyard_artifact_bytes',
    help: 'Bytes of the artifacts recorded in the database (all runs, any store).',
    registers,
    async collect() {
      const [row] = await db.all<{ bytes: number | null }>(sql`SELECT sum(size) AS bytes FROM artifacts`);
      this.set(Number(row?.bytes ?? 0));
    },
  });
  const logBytes = new Counter({ name: 'flowyard_log_bytes_ingested_total', help: 'Log bytes stored from runners by this process.', registers });
  const claimWait = new Histogram({
    name: 'flowyard_job_claim_latency_seconds',
    help: 'How long a job waited in the queue before a runner claimed it, by the label set it asks for.',
    labelNames: ['labels'],
    buckets: QUEUE_WAIT_BUCKETS,
    registers,
  });
  const httpDuration = new Histogram({
    name: 'flowyard_http_request_duration_seconds',
    help: 'HTTP request latency by method, matched route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const sseConnections = new Gauge({ name: 'flowyard_sse_connections', help: 'Open server-sent event streams (live logs).', registers });
  const collabConnections = new Gauge({ name: 'flowyard_collab_connections', help: 'Open co-editing WebSocket connections.', registers });

  // When a job became claimable, as seen by this process: a job of a later stage is created with its run but queued after its gate.
  const queuedAt = new Map<string, number>();
  const unsubscribes = [
    events.subscribe('log.appended', (event) => logBytes.inc(event.bytes)),
    events.subscribe('job.queued', ({ runId, jobIndex }) => {
      if (queuedAt.size >= MAX_TRACKED_QUEUED) queuedAt.delete(queuedAt.keys().next().value!);
      queuedAt.set(`${runId}:${jobIndex}`, Date.now());
    }),
  ];

  return {
    registry,
    httpDuration,
    sseConnections,
    collabConnections,
    async jobClaimed(jobId) {
      try {
        const [job] = await db.all<{ run_id: string; index: number; runs_on: string; created_at: number; claimed_at: number }>(
          sql`SELECT run_id, "index", runs_on, created_at, claimed_at FROM jobs WHERE id = ${jobId}`,
        );
        if (!job) return;
        const key = `${job.run_id}:${job.index}`;
        const since = queuedAt.get(key) ?? Number(job.created_at);
        queuedAt.delete(key);
        claimWait.observe({ labels: labelSetOf(JSON.parse(job.runs_on)) }, Math.max(0, Number(job.claimed_at) - since) / 1000);
      } catch {
        // A metric must never fail a claim.
      }
    },
    close() {
      for (const unsubscribe of unsubscribes) unsubscribe();
    },
  };
}
