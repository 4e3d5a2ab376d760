/**
 * The runner's own Prometheus metrics, served by `flowyard runner --metrics-port` on loopback by default
 * (docs/operations.md lists them): jobs running, steps by result, log bytes sent and reports waiting in the
 * outboxes. The registry is the caller's, so serve's embedded runner can share the server's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { JobOutbox, OutboxEvent, OutboxObserver } from './outbox.ts';

const FINAL_STEP_STATES = new Set(['succeeded', 'failed', 'skipped', 'cancelled', 'timed_out']);

export class RunnerMetrics implements OutboxObserver {
  private readonly outboxes = new Set<JobOutbox>();
  private runningJobs: () => number = () => 0;
  private readonly steps: Counter<'result'>;
  private readonly logBytes: Counter;

  constructor(readonly registry: Registry = new Registry()) {
    const registers = [registry];
    const jobsRunning: Gauge = new Gauge({
      name: 'flowyard_runner_jobs_running',
      help: 'Jobs this runner is running now.',
      registers,
      collect: () => jobsRunning.set(this.runningJobs()),
    });
    const outboxDepth: Gauge = new Gauge({
      name: 'flowyard_runner_outbox_depth',
      help: 'Step reports, log chunks and results waiting to be delivered to the server.',
      registers,
      collect: () => outboxDepth.set([...this.outboxes].reduce((sum, outbox) => sum + outbox.pending, 0)),
    });
    this.steps = new Counter({ name: 'flowyard_runner_steps_total', help: 'Steps finished and reported, by result.', labelNames: ['result'], registers });
    this.logBytes = new Counter({ name: 'flowyard_runner_log_bytes_sent_total', help: 'Log bytes delivered to the server.', registers });
  }

  /** Where the jobs-running gauge reads its value. */
  countRunningJobs(count: () => number): void {
    this.runningJobs = count;
  }

  opened(outbox: JobOutbox): void {
    this.outboxes.add(outbox);
  }

  closed(outbox: JobOutbox): void {
    this.outboxes.delete(outbox);
  }

  delivered(events: readonly OutboxEvent[]): void {
    for (const event of events) {
      if (event.kind === 'log') this.logBytes.inc(event.data.byteLength);
      else if (event.kind === 'step' && FINAL_STEP_STATES.has(event.report.state)) this.steps.inc({ result: event.report.state });
    }
  }
}

export interface MetricsEndpoint {
  url: string;
  close(): Promise<void>;
}

/** GET /metrics of `metrics` on host:port; anything else is a 404. Rejects with a one-line reason when the port cannot be used. */
export function serveRunnerMetrics(metrics: RunnerMetrics, host: string, port: number): Promise<MetricsEndpoint> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: the runner serves GET /metrics only\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' }).end(text),
      (error: Error) => response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${error.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`cannot serve metrics on ${host}:${port}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`)),
    );
    server.listen(port, host, () => {
      const bound = (server.address() as AddressInfo).port;
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
