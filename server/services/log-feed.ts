/**
 * Live step logs for many viewers at the cost of one: a feed per (database, run, step) in this process reads each
 * new chunk once and keeps the last ones sent, and every SSE viewer of that step takes its chunks from the feed.
 * A viewer behind what the feed keeps (a resume with an old Last-Event-ID, a slow client) reads its own pages
 * until it reaches the feed. So a log append costs a few reads per feed, however many viewers there are.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { runSteps } from '../../db/schema.ts';
import type { EventBus, Unsubscribe } from './events.ts';
import { readLogPage } from './logs.ts';

/** How long a feed waits for an event before it looks at the step anyway (a missed event, a step ended without logs). */
export const LOG_FEED_IDLE_MS = 1000;
/** What a feed keeps for viewers a little behind: at most this many chunks and about this many bytes. */
const KEPT_CHUNKS = 256;
const KEPT_BYTES = 4 * 1024 * 1024;

let ticks = 0;
/** A strictly increasing count: orders the reads of chunks and the credential checks made after them. */
export const tick = () => ++ticks;

export interface FeedChunk {
  seq: number;
  data: Uint8Array;
  /** The tick after which the chunk was known stored: a credential check begun after it covers the chunk. */
  readAt: number;
}

/** Counts of the reads feeds and viewers made, for tests that show what an append costs. */
export const logFeedReads = { pages: 0, states: 0 };

const feeds = new WeakMap<Db, Map<string, LogFeed>>();

class LogFeed {
  /** Every chunk up to this seq was sent (after the step ended, gaps are skipped); the feed reads after it. */
  private frontier: number;
  private kept: FeedChunk[] = [];
  private keptBytes = 0;
  /** The frontier before the first kept chunk: viewers at or after it are served from `kept`. */
  private keptFrom: number;
  /** The step's final state, once every chunk stored was sent. */
  endState?: string;
  failure?: unknown;
  private viewers = 0;
  private stopped = false;
  private poked = false;
  private wakeFeed?: () => void;
  private wakeViewers: Array<() => void> = [];
  private readonly unsubscribe: Unsubscribe[];

  constructor(
    private readonly db: Db,
    events: EventBus,
    private readonly runId: string,
    private readonly stepIndex: number,
    from: number,
    private readonly forget: () => void,
  ) {
    this.frontier = from;
    this.keptFrom = from;
    const poke = () => {
      this.poked = true;
      this.wakeFeed?.();
    };
    const ofRun = (event: { runId: string }) => event.runId === runId;
    this.unsubscribe = [events.subscribe('log.appended', poke, ofRun), events.subscribe('run.finished', poke, ofRun)];
    void this.run().catch((error: unknown) => {
      this.failure = error;
      this.stop();
    });
  }

  join(): void {
    this.viewers++;
  }

  leave(): void {
    if (--this.viewers === 0) this.stop();
  }

  /** The chunks sent after `after`, or undefined when the feed no longer keeps them all. */
  since(after: number): FeedChunk[] | undefined {
    if (after < this.keptFrom) return undefined;
    return this.kept.filter((chunk) => chunk.seq > after);
  }

  /** Counts what the feed sent, its end and its failure: a viewer waits until it moves past what the viewer saw. */
  version = 0;

  /** Resolves true once `version` moved past `seen` (at once if it did), false after `ms` if it did not. */
  changed(seen: number, ms: number): Promise<boolean> {
    if (this.version !== seen) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.wakeViewers = this.wakeViewers.filter((w) => w !== wake);
        resolve(false);
      }, ms);
      this.wakeViewers.push(wake);
    });
  }

  private notify(): void {
    this.version++;
    for (const wake of this.wakeViewers.splice(0)) wake();
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.forget();
    this.wakeFeed?.();
    this.notify();
  }

  private send(chunks: Array<{ seq: number; data: Uint8Array }>, readAt: number): void {
    for (const chunk of chunks) {
      this.kept.push({ ...chunk, readAt });
      this.keptBytes += chunk.data.byteLength;
      this.frontier = chunk.seq;
    }
    while (this.kept.length > KEPT_CHUNKS || (this.kept.length > 1 && this.keptBytes > KEPT_BYTES)) {
      const dropped = this.kept.shift()!;
      this.keptBytes -= dropped.data.byteLength;
      this.keptFrom = dropped.seq;
    }
    this.notify();
  }

  private async read(limit?: number) {
    logFeedReads.pages++;
    return readLogPage(this.db, this.runId, this.stepIndex, this.frontier, limit);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Events that arrive from here on wake the wait below at once: nothing stored during this pass is missed.
      this.poked = false;
      const page = await this.read();
      const readAt = tick();
      const ready = inOrder(page, this.frontier);
      if (ready.length > 0) {
        this.send(ready, readAt);
        continue;
      }
      logFeedReads.states++;
      const [step] = await this.db
        .select({ state: runSteps.state })
        .from(runSteps)
        .where(and(eq(runSteps.runId, this.runId), eq(runSteps.index, this.stepIndex)));
      if (!step || !['pending', 'running'].includes(step.state)) {
        // The step ended, so nothing more comes: what is stored goes out, gaps (a batch the API refused) and all.
        if (page.length > 0) {
          this.send(page, readAt);
          continue;
        }
        // A last look: chunks may have landed between the empty page and the state read.
        if ((await this.read(1)).length > 0) continue;
        this.endState = step?.state ?? 'unknown';
        this.stop();
        return;
      }
      if (!this.poked) await new Promise<void>((resolve) => this.waitForPoke(resolve));
    }
  }

  private waitForPoke(resolve: () => void): void {
    const timer = setTimeout(() => this.wakeFeed?.(), LOG_FEED_IDLE_MS);
    this.wakeFeed = () => {
      clearTimeout(timer);
      this.wakeFeed = undefined;
      resolve();
    };
  }
}

/**
 * A runner sends a few batches at once, so a later chunk may be stored before an earlier one: while the step runs,
 * only the chunks that follow on from `after` without a gap go out, and the rest once the gap is filled.
 */
function inOrder<T extends { seq: number }>(page: T[], after: number): T[] {
  const gap = page.findIndex((chunk, i) => chunk.seq !== after + 1 + i);
  return gap < 0 ? page : page.slice(0, gap);
}

function joinFeed(db: Db, events: EventBus, runId: string, stepIndex: number, after: number): LogFeed {
  const ofDb = feeds.get(db) ?? new Map<string, LogFeed>();
  feeds.set(db, ofDb);
  const key = `${runId}:${stepIndex}`;
  let feed = ofDb.get(key);
  if (!feed) {
    const created: LogFeed = new LogFeed(db, events, runId, stepIndex, after, () => {
      if (ofDb.get(key) === created) ofDb.delete(key);
    });
    feed = created;
    ofDb.set(key, feed);
  }
  feed.join();
  return feed;
}

export interface LogViewer {
  /**
   * Whether the viewer's credential still holds, by a check begun after tick `since` (the chunks about to go
   * out were stored before it), or without `since` by one at most about a second old.
   */
  allowed(since?: number): Promise<boolean>;
  send(chunk: { seq: number; data: Uint8Array }): Promise<void>;
  readonly closed: boolean;
}

export type FollowOutcome = { ended: string } | { revoked: true } | { closed: true };

/**
 * One viewer of a step's log from after `lastEventId`: every chunk once, in the order the feed sends them,
 * until the step ended and all was sent, the credential no longer holds, or the viewer went away.
 */
export async function followStepLog(
  db: Db,
  events: EventBus,
  runId: string,
  stepIndex: number,
  lastEventId: number,
  viewer: LogViewer,
): Promise<FollowOutcome> {
  const feed = joinFeed(db, events, runId, stepIndex, lastEventId);
  try {
    let after = lastEventId;
    while (!viewer.closed) {
      const seen = feed.version;
      if (feed.failure !== undefined) throw feed.failure;
      // Read before the chunks: once the feed ended, what it kept or what is stored is all there is.
      const endState = feed.endState;
      const kept = feed.since(after);
      let batch: Array<{ seq: number; data: Uint8Array }> = kept ?? [];
      let readAt = kept?.at(-1)?.readAt ?? 0;
      if (kept === undefined) {
        logFeedReads.pages++;
        const page = await readLogPage(db, runId, stepIndex, after);
        readAt = tick();
        batch = endState === undefined ? inOrder(page, after) : page;
      }
      if (batch.length > 0) {
        if (!(await viewer.allowed(readAt))) return { revoked: true };
        for (const chunk of batch) {
          if (viewer.closed) return { closed: true };
          await viewer.send(chunk);
          after = chunk.seq;
        }
        continue;
      }
      if (endState !== undefined) return { ended: endState };
      if (!(await feed.changed(seen, LOG_FEED_IDLE_MS)) && !(await viewer.allowed())) return { revoked: true };
    }
    return { closed: true };
  } finally {
    feed.leave();
  }
}
