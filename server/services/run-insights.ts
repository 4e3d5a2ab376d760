import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobs, runners, runSteps, users, webhookDeliveries, type RunState } from '../../db/schema.ts';
import { RUNNER_OFFLINE_AFTER_MS } from './runners.ts';

/** What a run page answers beside the run itself: who or what started it, which runner ran each job, why it still waits. */
interface RunRow {
  id: string;
  state: RunState;
  triggerType: string;
  triggeredBy: string | null;
  triggerPayload: Record<string, unknown>;
  cancelledBy: string | null;
  cancelRequestedAt: Date | null;
}

interface JobRow {
  id: string;
  index: number;
  state: RunState;
  runnerId: string | null;
}

/** Where a re-run came from; kept in the trigger payload (`.trigger.rerun_of` in templates) so the run needs no new column. */
export interface RerunOrigin {
  run_id: string;
  number: number;
  /** The job the re-run started at: 0 for a whole re-run. */
  from_job: number;
}

export interface RunTrigger {
  type: string;
  /** The user who started it (manual runs and re-runs). */
  user: { id: string; name: string; email: string } | null;
  /** The `X-Flowyard-Delivery` id of the webhook delivery that started it. */
  deliveryId: string | null;
  /** The schedule slot it ran for. */
  scheduledFor: string | null;
  rerunOf: RerunOrigin | null;
}

async function usersById(db: Db, ids: Array<string | null>) {
  const wanted = [...new Set(ids.filter((id): id is string => id !== null))];
  if (wanted.length === 0) return new Map<string, { id: string; name: string; email: string }>();
  const rows = await db.select({ id: users.id, name: users.name, email: users.email }).from(users).where(inArray(users.id, wanted));
  return new Map(rows.map((u) => [u.id, u]));
}

function rerunOrigin(payload: Record<string, unknown>): RerunOrigin | null {
  const origin = payload.rerun_of as Partial<RerunOrigin> | undefined;
  return origin && typeof origin.run_id === 'string' && typeof origin.number === 'number'
    ? { run_id: origin.run_id, number: origin.number, from_job: Number(origin.from_job ?? 0) }
    : null;
}

/** Triggers of several runs at once (the run list), with one query for users and one for webhook deliveries. */
export async function describeTriggers(db: Db, list: RunRow[]): Promise<Map<string, RunTrigger>> {
  const people = await usersById(
    db,
    list.map((r) => r.triggeredBy),
  );
  const hooked = list.filter((r) => r.triggerType === 'http').map((r) => r.id);
  const deliveries = hooked.length
    ? await db
        .select({ runId: webhookDeliveries.runId, deliveryId: webhookDeliveries.deliveryId })
        .from(webhookDeliveries)
        .where(inArray(webhookDeliveries.runId, hooked))
    : [];
  // Signed hooks also record `signature:<path>:<mac>` against the run; the delivery id is the other key.
  const deliveryOf = new Map(deliveries.filter((d) => !d.deliveryId.startsWith('signature:')).map((d) => [d.runId, d.deliveryId]));
  return new Map(
    list.map((run) => [
      run.id,
      {
        type: run.triggerType,
        user: run.triggeredBy ? (people.get(run.triggeredBy) ?? null) : null,
        deliveryId: deliveryOf.get(run.id) ?? null,
        scheduledFor: typeof run.triggerPayload.scheduled_for === 'string' ? run.triggerPayload.scheduled_for : null,
        rerunOf: rerunOrigin(run.triggerPayload),
      },
    ]),
  );
}

async function onlineRunners(db: Db, now: number) {
  const rows = await db
    .select({ id: runners.id, name: runners.name, labels: runners.labels, capacity: runners.capacity, lastSeenAt: runners.lastSeenAt })
    .from(runners)
    .where(isNull(runners.revokedAt));
  return rows.filter((r) => r.lastSeenAt !== null && now - r.lastSeenAt.getTime() < RUNNER_OFFLINE_AFTER_MS);
}

const labelList = (labels: string[]) => `[${labels.join(', ')}]`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Why a queued run has not started: no online runner has its labels, or every runner that has them is busy.
 * Null when it is not queued or a runner can take it now.
 */
export async function waitingReason(db: Db, run: RunRow, runJobs: JobRow[], now = Date.now()): Promise<string | null> {
  if (run.state !== 'queued' || run.cancelRequestedAt) return null;
  const queued = runJobs.find((j) => j.state === 'queued');
  if (!queued) return null;
  const [job] = await db.select({ runsOn: jobs.runsOn }).from(jobs).where(eq(jobs.id, queued.id));
  const wanted = job?.runsOn ?? [];
  const online = await onlineRunners(db, now);
  const able = online.filter((r) => wanted.every((label) => r.labels.includes(label)));
  if (able.length === 0) return `no online runner has the labels ${labelList(wanted)}; ${plural(online.length, 'runner')} online`;
  const busy = await db
    .select({ runnerId: jobs.runnerId })
    .from(jobs)
    .where(
      and(
        eq(jobs.state, 'running'),
        inArray(
          jobs.runnerId,
          able.map((r) => r.id),
        ),
      ),
    );
  const free = able.filter((r) => busy.filter((j) => j.runnerId === r.id).length < r.capacity);
  if (free.length === 0)
    return `every runner with the labels ${labelList(wanted)} is busy (${plural(able.length, 'runner')}); the run starts when one frees a slot`;
  return null;
}

/** Trigger, who cancelled, each job's runner name and why it waits: what `GET /api/runs/:id` adds to the run row. */
export async function runInsights(db: Db, run: RunRow, runJobs: JobRow[]) {
  const trigger = (await describeTriggers(db, [run])).get(run.id)!;
  const cancelledBy = run.cancelledBy ? ((await usersById(db, [run.cancelledBy])).get(run.cancelledBy) ?? null) : null;
  const runnerIds = [...new Set(runJobs.map((j) => j.runnerId).filter((id): id is string => id !== null))];
  const names = runnerIds.length ? await db.select({ id: runners.id, name: runners.name }).from(runners).where(inArray(runners.id, runnerIds)) : [];
  const nameOf = new Map(names.map((r) => [r.id, r.name]));
  return {
    trigger,
    cancelledByUser: cancelledBy,
    runnerNames: Object.fromEntries(runJobs.map((j) => [j.id, j.runnerId ? (nameOf.get(j.runnerId) ?? null) : null])),
    waitingReason: await waitingReason(db, run, runJobs),
  };
}

/** A pipeline that got through only because `continue_on_error` steps failed ends `succeeded_with_warnings`. */
export async function successState(db: Db, runId: string, state: RunState): Promise<RunState> {
  if (state !== 'succeeded') return state;
  const failed = await db
    .select({ index: runSteps.index })
    .from(runSteps)
    .where(and(eq(runSteps.runId, runId), inArray(runSteps.state, ['failed', 'timed_out'])))
    .limit(1);
  return failed.length > 0 ? 'succeeded_with_warnings' : 'succeeded';
}
