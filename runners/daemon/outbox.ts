import type { JobResult, StepReport } from '../protocol/v1.ts';
import { backoffMs, sleep, type ApiCallError, type RunnerApi } from './client.ts';

export type OutboxEvent =
  { kind: 'step'; index: number; report: StepReport } | { kind: 'log'; stepIndex: number; seq: number; data: string } | { kind: 'done'; result: JobResult };
type Event = OutboxEvent;

/** Told what an outbox holds and delivers (the runner's metrics, runners/daemon/metrics.ts). */
export interface OutboxObserver {
  opened(outbox: JobOutbox): void;
  delivered(events: readonly OutboxEvent[]): void;
  closed(outbox: JobOutbox): void;
}

const MAX_CHUNKS_PER_CALL = 200;
const MAX_BYTES_PER_CALL = 512 * 1024;

/**
 * Everything a job reports, delivered in order and exactly once in effect: events wait here while the API is
 * away and are re-sent with backoff; the API ignores log chunks it already has (they are numbered) and step
 * reports are plain state updates, so a re-send after a lost reply changes nothing.
 */
export class JobOutbox {
  private readonly queue: Event[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private readonly abandonment = new AbortController();
  /** Set when the API says the job is no longer ours; the rest is dropped. */
  lost: ApiCallError | undefined;
  readonly drained: Promise<void>;

  constructor(
    private readonly api: RunnerApi,
    private readonly jobId: string,
    observer?: OutboxObserver,
  ) {
    observer?.opened(this);
    this.drained = this.pump((events) => observer?.delivered(events)).finally(() => observer?.closed(this));
  }

  /** Events waiting to be delivered. */
  get pending(): number {
    return this.queue.length;
  }

  step(index: number, report: StepReport): void {
    this.push({ kind: 'step', index, report });
  }

  chunk(stepIndex: number, seq: number, text: string): void {
    this.push({ kind: 'log', stepIndex, seq, data: Buffer.from(text, 'utf8').toString('base64') });
  }

  /** Queues the job result; the outbox closes once everything before it and it are delivered. */
  done(result: JobResult): void {
    this.push({ kind: 'done', result });
    this.closed = true;
  }

  /** Stops without a result (the job was handed back); pending events are still delivered first. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  /** Drops everything pending and accepts nothing more: the runner gave the job up (it could not renew the lease). */
  abandon(): void {
    this.abandonment.abort();
    this.queue.length = 0;
    this.closed = true;
    this.wake?.();
  }

  private push(event: Event): void {
    if (this.lost || this.abandonment.signal.aborted) return;
    this.queue.push(event);
    this.wake?.();
  }

  private nextBatch(): { send: () => Promise<unknown>; count: number } {
    const head = this.queue[0]!;
    if (head.kind === 'step') return { send: () => this.api.reportStep(this.jobId, head.index, head.report), count: 1 };
    if (head.kind === 'done') return { send: () => this.api.done(this.jobId, head.result), count: 1 };
    const chunks: Array<{ stepIndex: number; seq: number; data: string }> = [];
    let bytes = 0;
    for (const event of this.queue) {
      if (event.kind !== 'log' || chunks.length >= MAX_CHUNKS_PER_CALL || bytes >= MAX_BYTES_PER_CALL) break;
      chunks.push({ stepIndex: event.stepIndex, seq: event.seq, data: event.data });
      bytes += event.data.length;
    }
    return { send: () => this.api.appendLogs(this.jobId, chunks), count: chunks.length };
  }

  private async pump(delivered: (events: readonly Event[]) => void): Promise<void> {
    let failures = 0;
    for (;;) {
      if (this.abandonment.signal.aborted) return;
      if (this.queue.length === 0) {
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const batch = this.nextBatch();
      try {
        await batch.send();
        delivered(this.queue.splice(0, batch.count));
        failures = 0;
      } catch (error) {
        const apiError = error as ApiCallError;
        if (!apiError.transient) {
          if (apiError.status === 409) {
            this.lost = apiError;
            this.queue.length = 0;
            return;
          }
          // A permanent refusal of one event must not block the rest of the job's reports.
          this.queue.splice(0, batch.count);
          continue;
        }
        await sleep(backoffMs(failures++), this.abandonment.signal);
      }
    }
  }
}
