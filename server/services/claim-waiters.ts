import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobs } from '../../db/schema.ts';
import type { BusEvent, EventBus } from './events.ts';

/** A queued job handed to one waiting claim: which job, what labels it needs, and which runners already had it and passed. */
export interface Offer {
  runId: string;
  jobIndex: number;
  runsOn: string[];
  seq: number;
  passedBy: Set<string>;
}

interface Waiter {
  runnerId: string;
  labels: ReadonlySet<string>;
  wake: (offer: Offer) => void;
}

/** How long a job nobody was waiting for stays on offer to a claim that was between its statement and its wait. */
const UNCLAIMED_KEEP_MS = 2000;
const UNCLAIMED_MAX = 256;

const matches = (labels: ReadonlySet<string>, runsOn: string[]) => runsOn.every((label) => labels.has(label));

/**
 * The claims long-polling in this process, by runner labels. Each queued job wakes at most ONE waiter whose
 * labels it matches (the longest waiting), so 50 idle runners cost what one does; a waiter that then fails to
 * claim it passes it on to the next one, and only while the job is still queued. Runners of other API processes
 * still find the work through their own poll, as before.
 */
export class ClaimWaiters {
  private waiters: Waiter[] = [];
  /** Jobs queued while no matching claim waited: a claim that registers just after its empty statement takes one. */
  private unclaimed: { offer: Offer; at: number }[] = [];
  private seq = 0;
  /** Claims woken so far (for tests and metrics): one per queued job, plus one per pass-on. */
  wakes = 0;

  constructor(
    private readonly db: Db,
    events: EventBus,
  ) {
    events.subscribe('job.queued', (event) => void this.queued(event).catch((error: Error) => console.error(`[claims] ${error.message}`)));
  }

  /** Taken before a claim statement; a wait started with it does not miss a job queued after it. */
  snapshot(): number {
    return this.seq;
  }

  /** Waits for a job this runner's labels match (queued after `since`), the wait's end or the abort: the offer, or undefined. */
  wait(runnerId: string, labels: string[], since: number, ms: number, signal?: AbortSignal): Promise<Offer | undefined> {
    const labelSet = new Set(labels);
    this.dropStaleUnclaimed();
    const early = this.unclaimed.findIndex(({ offer }) => offer.seq > since && !offer.passedBy.has(runnerId) && matches(labelSet, offer.runsOn));
    if (early >= 0) return Promise.resolve(this.unclaimed.splice(early, 1)[0]!.offer);
    return new Promise((resolve) => {
      const finish = (offer?: Offer) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(offer);
      };
      const onAbort = () => finish();
      const waiter: Waiter = { runnerId, labels: labelSet, wake: finish };
      const timer = setTimeout(finish, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** A woken claim that did not get the offered job hands it to the next matching waiter, if the job is still queued. */
  async passOn(offer: Offer, runnerId: string): Promise<void> {
    offer.passedBy.add(runnerId);
    const [job] = await this.db
      .select({ state: jobs.state })
      .from(jobs)
      .where(and(eq(jobs.runId, offer.runId), eq(jobs.index, offer.jobIndex)));
    if (job?.state === 'queued') this.offer(offer);
  }

  /** How many claims are waiting here (for tests and metrics). */
  get waiting(): number {
    return this.waiters.length;
  }

  private async queued(event: BusEvent<'job.queued'>): Promise<void> {
    const seq = ++this.seq;
    const [job] = await this.db
      .select({ runsOn: jobs.runsOn })
      .from(jobs)
      .where(and(eq(jobs.runId, event.runId), eq(jobs.index, event.jobIndex)));
    if (!job) return;
    this.offer({ runId: event.runId, jobIndex: event.jobIndex, runsOn: job.runsOn, seq, passedBy: new Set() });
  }

  private offer(offer: Offer): void {
    const waiter = this.waiters.find((w) => !offer.passedBy.has(w.runnerId) && matches(w.labels, offer.runsOn));
    if (waiter) {
      this.wakes++;
      return waiter.wake(offer);
    }
    this.dropStaleUnclaimed();
    this.unclaimed.push({ offer, at: Date.now() });
    if (this.unclaimed.length > UNCLAIMED_MAX) this.unclaimed.shift();
  }

  private dropStaleUnclaimed(): void {
    const now = Date.now();
    this.unclaimed = this.unclaimed.filter(({ at }) => now - at < UNCLAIMED_KEEP_MS);
  }
}

const registries = new WeakMap<EventBus, ClaimWaiters>();

/** The one registry of a bus (an app has one bus; tests build several apps in one process). */
export function claimWaitersFor(db: Db, events: EventBus): ClaimWaiters {
  let registry = registries.get(events);
  if (!registry) registries.set(events, (registry = new ClaimWaiters(db, events)));
  return registry;
}
