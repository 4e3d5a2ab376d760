import type { LogFrame } from '../protocol/log-frames.ts';
import type { JobResult, StepReport } from '../protocol/v1.ts';
import { backoffMs, sleep, type ApiCallError, type RunnerApi } from './client.ts';

export type OutboxEvent =
  { kind: 'step'; index: number; report: StepReport } | { kind: 'log'; stepIndex: number; seq: number; data: Uint8Array } | { kind: 'done'; result: JobResult };
type Event = OutboxEvent;

/** Told what an outbox holds and delivers (the runner's metrics, runners/daemon/metrics.ts). */
export interface OutboxObserver {
  opened(outbox: JobOutbox): void;
  delivered(events: readonly OutboxEvent[]): void;
  closed(outbox: JobOutbox): void;
}

const MAX_CHUNKS_PER_CALL = 200;
/** Raw bytes per call: with frame headers well under the API's 1 MiB default body limit. */
const MAX_BYTES_PER_CALL = 512 * 1024;
/** Log batches on the wire at once: the API stores one while the next travels. */
const LOG_BATCHES_IN_FLIGHT = 4;

type Outcome = 'delivered' | 'refused' | 'lost';
interface Batch {
  count: number;
  outcome?: Outcome;
}

/**
 * Everything a job reports, delivered in order and exactly once in effect: events wait here while the API is
 * away and are re-sent with backoff; the API ignores log chunks it already has (they are numbered) and step
 * reports are plain state updates, so a re-send after a lost reply changes nothing. Consecutive log chunks go
 * out in up to four batches at once (each retried on its own); a step report or the result waits until every
 * chunk before it is delivered, so a step the API sees finished has its whole log stored.
 */
export class JobOutbox {
  private readonly queue: Event[] = [];
  /** Batches sent and not yet retired, oldest first; they cover the first `dispatched` events of the queue. */
  private readonly inFlight: Batch[] = [];
  private dispatched = 0;
  private wake: (() => void) | undefined;
  private closed = false;
  /** Set when the API answered 404 to appendLogFrames (a server from before it): logs go as JSON from then on. */
  private framesUnsupported = false;
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
    this.push({ kind: 'log', stepIndex, seq, data: Buffer.from(text, 'utf8') });
  }

  /** Queues the job result; the outbox closes once everything before it and it are delivered. */
  done(result: JobResult): void {
    this.push({ kind: 'done', result });
    this.closed = true;
  }

  /** Stops without a result (the job was handed back); pending events are still delivered first. */
  close(): void {
    this.closed = true;
    this.notify();
  }

  /** Drops everything pending and accepts nothing more: the runner gave the job up (it could not renew the lease). */
  abandon(): void {
    this.abandonment.abort();
    this.queue.length = 0;
    this.closed = true;
    this.notify();
  }

  private push(event: Event): void {
    if (this.lost || this.abandonment.signal.aborted) return;
    this.queue.push(event);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The log chunks from `from` on, up to the per-call limits. */
  private logBatch(from: number): LogFrame[] {
    const frames: LogFrame[] = [];
    let bytes = 0;
    for (let i = from; i < this.queue.length; i++) {
      const event = this.queue[i]!;
      if (event.kind !== 'log' || frames.length >= MAX_CHUNKS_PER_CALL || bytes >= MAX_BYTES_PER_CALL) break;
      frames.push(event);
      bytes += event.data.byteLength;
    }
    return frames;
  }

  private async sendLogs(frames: LogFrame[]): Promise<unknown> {
    if (!this.framesUnsupported) {
      try {
        return await this.api.appendLogFrames(this.jobId, frames);
      } catch (error) {
        if ((error as ApiCallError).status !== 404) throw error;
        this.framesUnsupported = true;
      }
    }
    const chunks = frames.map((f) => ({
      stepIndex: f.stepIndex,
      seq: f.seq,
      data: Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength).toString('base64'),
    }));
    return this.api.appendLogs(this.jobId, chunks);
  }

  /** Sends until the API takes it, retrying transient failures with backoff; a permanent refusal drops it. */
  private async deliver(send: () => Promise<unknown>): Promise<Outcome> {
    for (let failures = 0; ;) {
      if (this.abandonment.signal.aborted || this.lost) return 'lost';
      try {
        await send();
        return 'delivered';
      } catch (error) {
        const apiError = error as ApiCallError;
        if (!apiError.transient) {
          if (apiError.status !== 409) return 'refused';
          this.lost ??= apiError;
          return 'lost';
        }
        await sleep(backoffMs(failures++), this.abandonment.signal);
      }
    }
  }

  private dispatch(send: () => Promise<unknown>, count: number): void {
    const batch: Batch = { count };
    this.inFlight.push(batch);
    this.dispatched += count;
    void this.deliver(send).then((outcome) => {
      batch.outcome = outcome;
      this.notify();
    });
  }

  private async pump(delivered: (events: readonly Event[]) => void): Promise<void> {
    for (;;) {
      if (this.abandonment.signal.aborted) return;
      // Retire finished batches in queue order, so the queue front is always the oldest undelivered event.
      while (this.inFlight[0]?.outcome) {
        const batch = this.inFlight.shift()!;
        const events = this.queue.splice(0, batch.count);
        this.dispatched -= batch.count;
        if (batch.outcome === 'delivered') delivered(events);
      }
      if (this.lost) {
        this.queue.length = 0;
        return;
      }
      const next = this.queue[this.dispatched];
      if (next?.kind === 'log' && this.inFlight.length < LOG_BATCHES_IN_FLIGHT) {
        const frames = this.logBatch(this.dispatched);
        this.dispatch(() => this.sendLogs(frames), frames.length);
        continue;
      }
      if (next && next.kind !== 'log' && this.inFlight.length === 0) {
        this.dispatch(next.kind === 'step' ? () => this.api.reportStep(this.jobId, next.index, next.report) : () => this.api.done(this.jobId, next.result), 1);
        continue;
      }
      if (!next && this.inFlight.length === 0 && this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
