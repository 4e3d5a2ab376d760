import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { artifacts, jobs, runs, runSteps, type RunState } from '../../db/schema.ts';
import { ApiError, notFound } from './errors.ts';
import { insertInBatches } from './batch-insert.ts';
import { runStepList } from './run-spec.ts';
import type { RerunOrigin } from './run-insights.ts';
import { builtVersion } from './built-versions.ts';
import { openGate } from './gates.ts';
import { getRun } from './runs.ts';
import type { EventBus } from './events.ts';

const ACTIVE: RunState[] = ['queued', 'running', 'waiting'];
const FAILED_STEP = ['failed', 'timed_out', 'cancelled'];

/** The first job with a failed, timed-out or cancelled step: where a re-run from the failure starts. */
function failedJob(steps: Array<{ jobIndex: number; state: string }>): number | null {
  const failed = steps.filter((s) => s.jobIndex >= 0 && FAILED_STEP.includes(s.state)).map((s) => s.jobIndex);
  return failed.length ? Math.min(...failed) : null;
}

/**
 * A new run of the same version, pipeline, inputs and trigger payload. With `fromFailed`, it starts at the
 * job that failed: the earlier jobs are carried over as a gate carries them between jobs (their steps'
 * states, outputs and logs, their artifacts including the saved workspace), so the failed job restores the
 * same workspace and sees the same earlier outputs; the gate in front of it decides again. The new run is numbered like any other and records
 * where it came from in `trigger.rerun_of`.
 */
export async function rerunRun(db: Db, events: EventBus, runId: string, options: { fromFailed: boolean; userId: string }) {
  const old = await getRun(db, runId);
  if (ACTIVE.includes(old.state))
    throw new ApiError(409, 'still_active', `run #${old.number} is still ${old.state}; cancel it or wait for it to end before re-running`);
  const fromJob = options.fromFailed ? failedJob(old.steps) : 0;
  if (fromJob === null)
    throw new ApiError(409, 'nothing_failed', `run #${old.number} ended ${old.state.replaceAll('_', ' ')} with no failed job; re-run the whole run instead`);
  const build = await builtVersion(db, old.workflowId, old.version);
  const pipeline = build.workflow.pipelines[old.pipeline];
  const plan = build.plan.pipelines.find((p) => p.name === old.pipeline);
  if (!pipeline || !plan) throw notFound(`pipeline "${old.pipeline}" in version ${old.version}`);
  // The gate in front of the failed job is asked again: an approval (above all of a protected deploy) is not carried over.
  const gate = fromJob > 0 ? old.steps.find((s) => s.type === 'step.gate' && s.jobIndex === fromJob - 1) : undefined;
  const carried = new Map(old.steps.filter((s) => s.jobIndex >= 0 && s.jobIndex < fromJob && s !== gate).map((s) => [s.index, s]));
  const origin: RerunOrigin = { run_id: old.id, number: old.number, from_job: fromJob };
  const newId = crypto.randomUUID();
  await db.transaction(async (tx) => {
    const [{ next }] = (await tx
      .select({ next: sql<number>`coalesce(max(${runs.number}), 0) + 1` })
      .from(runs)
      .where(eq(runs.workflowId, old.workflowId))) as [{ next: number }];
    await tx.insert(runs).values({
      id: newId,
      workflowId: old.workflowId,
      number: next,
      version: old.version,
      pipeline: old.pipeline,
      triggerType: 'rerun',
      triggeredBy: options.userId,
      inputs: old.inputs,
      triggerPayload: { ...old.triggerPayload, rerun_of: origin },
    });
    await insertInBatches(
      tx,
      runSteps,
      runStepList(pipeline, plan).map((s) => {
        const before = carried.get(s.index);
        const copy = before ? { state: before.state, exitCode: before.exitCode, outputs: before.outputs, error: before.error, logBytes: before.logBytes } : {};
        return { runId: newId, jobIndex: s.job, index: s.index, name: s.step.name, type: s.step.type, ...copy };
      }),
    );
    const first = old.jobs.find((j) => j.index === 0);
    const [template] = first ? await tx.select().from(jobs).where(eq(jobs.id, first.id)) : [];
    const retry = pipeline.retry;
    const settings = {
      runsOn: plan.runsOn,
      retryOnRunnerLost: template?.retryOnRunnerLost ?? retry?.on.includes('runner_lost') ?? false,
      maxAttempts: template?.maxAttempts ?? retry?.max_attempts ?? 1,
    };
    const earlierJobs = old.jobs.filter((j) => j.index < fromJob);
    if (earlierJobs.length) {
      await tx.insert(jobs).values(
        earlierJobs.map((j) => ({
          ...settings,
          runId: newId,
          index: j.index,
          state: j.state,
          runnerId: j.runnerId,
          attempt: j.attempt,
          finishedAt: new Date(),
        })),
      );
    }
    if (!gate) await tx.insert(jobs).values({ ...settings, runId: newId, index: fromJob });
    if (fromJob > 0) {
      // The same stored objects, listed under the new run: nothing is copied byte by byte.
      const failedAt = old.jobs.find((j) => j.index === fromJob)?.id;
      const [failedRow] = failedAt ? await tx.select({ claimedAt: jobs.claimedAt }).from(jobs).where(eq(jobs.id, failedAt)) : [];
      const stored = await tx.select().from(artifacts).where(eq(artifacts.runId, old.id));
      const earlier = stored.filter((a) => !failedRow?.claimedAt || a.createdAt <= failedRow.claimedAt);
      if (earlier.length)
        await tx.insert(artifacts).values(earlier.map((a) => ({ runId: newId, key: a.key, size: a.size, sha256: a.sha256, storageKey: a.storageKey })));
      if (carried.size) {
        const steps = sql.join(
          [...carried.keys()].map((i) => sql`${i}`),
          sql`, `,
        );
        await tx.run(sql`INSERT INTO log_chunks (run_id, step_index, seq, data, encoding, created_at)
        SELECT ${newId}, step_index, seq, data, encoding, created_at FROM log_chunks WHERE run_id = ${old.id} AND step_index IN (${steps})`);
        // Archived logs: the same object, listed under the new run (retention deletes it once no run lists it).
        await tx.run(sql`INSERT INTO log_archives (run_id, step_index, storage_key, encoding, chunks, bytes, stored_bytes, chunk_index, created_at)
        SELECT ${newId}, step_index, storage_key, encoding, chunks, bytes, stored_bytes, chunk_index, created_at FROM log_archives
        WHERE run_id = ${old.id} AND step_index IN (${steps})`);
      }
    }
  });
  events.publish({ type: 'run.created', runId: newId, workflowId: old.workflowId });
  if (gate) await openGate(db, events, newId, gate.index);
  else events.publish({ type: 'job.queued', runId: newId, jobIndex: fromJob });
  return getRun(db, newId);
}
