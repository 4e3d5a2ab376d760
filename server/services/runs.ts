import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobs, logChunks, runs, runSteps, workflows, type RunState } from '../../db/schema.ts';
import type { JobResult, JobSpec, StepReport } from '../../runners/protocol/v1.ts';
import { ApiError, notFound } from './errors.ts';
import { insertInBatches } from './batch-insert.ts';
import type { AuthRunner } from './runners.ts';
import { jobSpecFor, resolveInputs, runStepList } from './run-spec.ts';
import { workflowSecrets } from './secrets.ts';
import { environmentProtections, environmentSecrets, recordDeployment } from './environments.ts';
import { isBuiltStep } from '../engine/schema/steps.ts';
import { deployRefusal, deploySteps } from '../engine/environment-access.ts';
import { expireGates, listGateDecisions, openGate } from './gates.ts';
import { builtVersion } from './built-versions.ts';
import { settleRun } from './run-settle.ts';
import { describeTriggers, runInsights, successState } from './run-insights.ts';
import { cachedMasker, forgetMasker, runSecretValues } from './secret-masking.ts';
import { maskDeep, type SecretMasker } from '../engine/masker.ts';
import type { EventBus } from './events.ts';

export const DEFAULT_LEASE_MS = 30_000;
const FINAL_STATES: RunState[] = ['succeeded', 'succeeded_with_warnings', 'failed', 'cancelled', 'timed_out'];

export interface NewRun {
  pipeline?: string;
  inputs?: Record<string, unknown>;
  triggerType: 'manual' | 'http' | 'schedule';
  triggerPayload?: Record<string, unknown>;
  triggeredBy?: string | null;
}

/** Queues a run of the active version: its steps as pending and its first job for a runner to claim. */
export async function createRun(db: Db, events: EventBus, workflowId: string, input: NewRun) {
  const [workflow] = await db.select().from(workflows).where(eq(workflows.id, workflowId));
  if (!workflow) throw notFound(`workflow ${workflowId}`);
  if (workflow.activeVersion === null) throw new ApiError(409, 'not_published', `workflow "${workflow.name}" has no published version to run`);
  const build = await builtVersion(db, workflowId, workflow.activeVersion);
  const names = Object.keys(build.workflow.pipelines);
  const pipelineName = input.pipeline ?? (names.length === 1 ? names[0]! : undefined);
  if (!pipelineName) throw new ApiError(400, 'pipeline_required', `workflow "${workflow.name}" has several pipelines; name one of ${names.join(', ')}`);
  const pipeline = build.workflow.pipelines[pipelineName];
  const plan = build.plan.pipelines.find((p) => p.name === pipelineName);
  if (!pipeline || !plan) throw new ApiError(404, 'not_found', `workflow "${workflow.name}" has no pipeline "${pipelineName}"`);
  let inputs: Record<string, unknown>;
  try {
    inputs = resolveInputs(pipeline, input.inputs ?? {});
  } catch (error) {
    throw new ApiError(422, 'invalid_inputs', (error as Error).message);
  }
  const steps = runStepList(pipeline, plan);
  const runId = crypto.randomUUID();
  await db.transaction(async (tx) => {
    const [{ next }] = (await tx
      .select({ next: sql<number>`coalesce(max(${runs.number}), 0) + 1` })
      .from(runs)
      .where(eq(runs.workflowId, workflowId))) as [{ next: number }];
    await tx.insert(runs).values({
      id: runId,
      workflowId,
      number: next,
      version: workflow.activeVersion!,
      pipeline: pipelineName,
      triggerType: input.triggerType,
      triggeredBy: input.triggeredBy ?? null,
      inputs,
      triggerPayload: input.triggerPayload ?? {},
    });
    await insertInBatches(
      tx,
      runSteps,
      steps.map((s) => ({ runId, jobIndex: s.job, index: s.index, name: s.step.name, type: s.step.type })),
    );
    const retry = pipeline.retry;
    await tx.insert(jobs).values({
      runId,
      index: 0,
      runsOn: plan.runsOn,
      retryOnRunnerLost: retry?.on.includes('runner_lost') ?? false,
      maxAttempts: retry ? retry.max_attempts : 1,
    });
  });
  events.publish({ type: 'run.created', runId, workflowId });
  events.publish({ type: 'job.queued', runId, jobIndex: 0 });
  return getRun(db, runId);
}

export async function getRun(db: Db, runId: string) {
  const [run] = await db
    .select({ run: runs, workflowName: workflows.name })
    .from(runs)
    .innerJoin(workflows, eq(workflows.id, runs.workflowId))
    .where(eq(runs.id, runId));
  if (!run) throw notFound(`run ${runId}`);
  const steps = await db.select().from(runSteps).where(eq(runSteps.runId, runId)).orderBy(runSteps.index);
  const runJobs = await db
    .select({ id: jobs.id, index: jobs.index, state: jobs.state, runnerId: jobs.runnerId, attempt: jobs.attempt, error: jobs.error })
    .from(jobs)
    .where(eq(jobs.runId, runId))
    .orderBy(jobs.index);
  const decisions = await listGateDecisions(db, runId);
  return { ...run.run, workflowName: run.workflowName, steps, jobs: runJobs, gateDecisions: decisions, ...(await runInsights(db, run.run, runJobs)) };
}

export async function listRuns(db: Db, workflowId: string, page: { limit: number; before?: number; state?: RunState; pipeline?: string }) {
  const where = and(
    eq(runs.workflowId, workflowId),
    page.before ? lt(runs.number, page.before) : undefined,
    page.state ? eq(runs.state, page.state) : undefined,
    page.pipeline ? eq(runs.pipeline, page.pipeline) : undefined,
  );
  const rows = await db
    .select()
    .from(runs)
    .where(where)
    .orderBy(desc(runs.number))
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const items = rows.slice(0, page.limit);
  const triggers = await describeTriggers(db, items);
  return { runs: items.map((run) => ({ ...run, trigger: triggers.get(run.id)! })), nextBefore: more ? items.at(-1)!.number : null };
}

/**
 * Hands the oldest queued job whose runs_on labels the runner has to that runner, in ONE statement, so
 * several API processes can serve runners against the same database without double claims.
 */
export async function claimJob(db: Db, runner: AuthRunner, secretsKey: CryptoKey, leaseMs = DEFAULT_LEASE_MS): Promise<JobSpec | null> {
  const now = Date.now();
  const claimed = await db.all<{ id: string; run_id: string; index: number }>(sql`
    UPDATE jobs SET state = 'running', runner_id = ${runner.id}, lease_expires_at = ${now + leaseMs},
      claimed_at = ${now}, attempt = attempt + 1
    WHERE id = (
      SELECT j.id FROM jobs j
      WHERE j.state = 'queued'
        AND NOT EXISTS (SELECT 1 FROM json_each(j.runs_on) wanted WHERE wanted.value NOT IN (SELECT value FROM json_each(${JSON.stringify(runner.labels)})))
        AND (SELECT count(*) FROM jobs mine WHERE mine.runner_id = ${runner.id} AND mine.state = 'running') < ${runner.capacity}
      ORDER BY j.created_at, j.rowid LIMIT 1
    ) AND state = 'queued'
    RETURNING id, run_id, "index"`);
  const job = claimed[0];
  if (!job) return null;
  const [run] = await db.select().from(runs).where(eq(runs.id, job.run_id));
  if (!run) return null;
  await db
    .update(runs)
    .set({ state: 'running', startedAt: run.startedAt ?? new Date(now) })
    .where(and(eq(runs.id, run.id), eq(runs.state, 'queued')));
  const build = await builtVersion(db, run.workflowId, run.version);
  const plan = build.plan.pipelines.find((p) => p.name === run.pipeline)!;
  const prior = job.index > 0 ? await priorJobsState(db, run.id, job.index) : { priorOutputs: {}, priorContext: {} };
  const deploys = deploySteps(build.workflow, run.pipeline);
  const targets = deploys.map((step) => step.environment);
  return jobSpecFor(build.workflow, plan, {
    ...prior,
    jobId: job.id,
    jobIndex: job.index,
    runId: run.id,
    runNumber: run.number,
    pipelineName: run.pipeline,
    inputs: run.inputs,
    trigger: run.triggerPayload,
    secrets: await workflowSecrets(db, secretsKey, run.workflowId),
    environmentSecrets: await environmentSecrets(db, secretsKey, targets),
    deployRefusals: await deployRefusals(db, run.workflowId, deploys),
    leaseMs,
  });
}

/** Protection is checked again when the job is claimed: an admin may have changed it since publish. */
async function deployRefusals(db: Db, workflowId: string, deploys: ReturnType<typeof deploySteps>): Promise<Record<number, string>> {
  if (deploys.length === 0) return {};
  const [workflow] = await db.select({ name: workflows.name }).from(workflows).where(eq(workflows.id, workflowId));
  const protections = new Map(
    (
      await environmentProtections(
        db,
        deploys.map((d) => d.environment),
      )
    ).map((e) => [e.name, e]),
  );
  const out: Record<number, string> = {};
  for (const step of deploys) {
    const refusal = deployRefusal(step, workflow?.name ?? '', protections.get(step.environment));
    if (refusal) out[step.index] = refusal;
  }
  return out;
}

/** Outputs and error with secret values masked; the rest of a report is ours, not the steps'. */
function maskReport<T extends { outputs?: Record<string, unknown>; error?: string }>(report: T, masker: SecretMasker): T {
  return {
    ...report,
    ...(report.outputs ? { outputs: maskDeep(report.outputs, masker) } : {}),
    ...(report.error !== undefined ? { error: masker.mask(report.error) } : {}),
  };
}

/** Masks the secret values of a held job's run in what the server stores (defence in depth: the runner masks too). */
async function jobMasker(db: Db, secretsKey: CryptoKey, job: { id: string; runId: string }): Promise<SecretMasker> {
  return cachedMasker(job.id, async () => {
    const [run] = await db.select().from(runs).where(eq(runs.id, job.runId));
    if (!run) return [];
    const build = await builtVersion(db, run.workflowId, run.version);
    return runSecretValues(db, secretsKey, run.workflowId, build.workflow, run.pipeline);
  });
}

/** Outputs and step.set values of the steps that ran in the jobs before `jobIndex`. */
async function priorJobsState(db: Db, runId: string, jobIndex: number) {
  const earlier = await db
    .select()
    .from(runSteps)
    .where(and(eq(runSteps.runId, runId), lt(runSteps.jobIndex, jobIndex), eq(runSteps.state, 'succeeded')))
    .orderBy(runSteps.index);
  const priorOutputs: Record<string, Record<string, unknown>> = {};
  const priorContext: Record<string, unknown> = {};
  for (const step of earlier) {
    priorOutputs[step.name] = step.outputs ?? {};
    if (step.type === 'step.set') Object.assign(priorContext, step.outputs ?? {});
  }
  return { priorOutputs, priorContext };
}

async function heldJob(db: Db, runner: AuthRunner, jobId: string) {
  const [job] = await db.select().from(jobs).where(eq(jobs.id, jobId));
  if (!job || job.runnerId !== runner.id || job.state !== 'running') {
    throw new ApiError(409, 'job_not_held', `job ${jobId} is not running on this runner (it may have been taken back after its lease lapsed)`);
  }
  return job;
}

export async function renewLease(db: Db, runner: AuthRunner, jobId: string, leaseMs = DEFAULT_LEASE_MS) {
  const job = await heldJob(db, runner, jobId);
  const leaseExpiresAt = Date.now() + leaseMs;
  await db
    .update(jobs)
    .set({ leaseExpiresAt: new Date(leaseExpiresAt) })
    .where(eq(jobs.id, jobId));
  return { leaseExpiresAt, cancelled: await isCancelRequested(db, job.runId) };
}

export async function isCancelRequested(db: Db, runId: string): Promise<boolean> {
  const [run] = await db.select({ cancelRequestedAt: runs.cancelRequestedAt }).from(runs).where(eq(runs.id, runId));
  return Boolean(run?.cancelRequestedAt);
}

/** A finished step.deploy goes into its environment's deploy history. */
async function recordIfDeploy(db: Db, runId: string, stepIndex: number, report: StepReport) {
  if (!['succeeded', 'failed', 'cancelled', 'timed_out'].includes(report.state)) return;
  const [step] = await db
    .select()
    .from(runSteps)
    .where(and(eq(runSteps.runId, runId), eq(runSteps.index, stepIndex)));
  if (step?.type !== 'step.deploy') return;
  const [run] = await db.select().from(runs).where(eq(runs.id, runId));
  const build = await builtVersion(db, run!.workflowId, run!.version);
  const pipeline = build.workflow.pipelines[run!.pipeline]!;
  // Run-wide index: compensation steps follow the main steps.
  const deploy = [...pipeline.steps, ...(pipeline.compensation ?? [])][stepIndex];
  if (!deploy || !isBuiltStep(deploy, 'step.deploy')) return;
  const { config } = deploy;
  const outputs = report.outputs ?? {};
  await recordDeployment(db, {
    environment: config.environment,
    workflowId: run!.workflowId,
    runId,
    step: step.name,
    image: String(outputs.image ?? config.image),
    version: outputs.version === undefined ? null : String(outputs.version),
    strategy: config.strategy,
    result: report.state === 'succeeded' ? String(outputs.status ?? 'deployed') : String(outputs.status ?? report.state),
    triggeredBy: run!.triggeredBy,
  });
}

export async function reportStep(db: Db, runner: AuthRunner, jobId: string, stepIndex: number, unmasked: StepReport, secretsKey: CryptoKey) {
  const job = await heldJob(db, runner, jobId);
  const report = maskReport(unmasked, await jobMasker(db, secretsKey, job));
  await recordIfDeploy(db, job.runId, stepIndex, report);
  await db
    .update(runSteps)
    .set({
      state: report.state,
      ...(report.exitCode !== undefined ? { exitCode: report.exitCode } : {}),
      ...(report.startedAt ? { startedAt: new Date(report.startedAt) } : {}),
      ...(report.finishedAt ? { finishedAt: new Date(report.finishedAt) } : {}),
      ...(report.outputs ? { outputs: report.outputs } : {}),
      ...(report.error !== undefined ? { error: report.error } : {}),
    })
    .where(and(eq(runSteps.runId, job.runId), eq(runSteps.index, stepIndex)));
}

/** Ends a job; a successful job followed by a gate opens the gate instead of ending the run. */
export async function finishJob(db: Db, events: EventBus, runner: AuthRunner, jobId: string, unmasked: JobResult, secretsKey: CryptoKey) {
  const job = await heldJob(db, runner, jobId);
  const result = maskReport(unmasked, await jobMasker(db, secretsKey, job));
  forgetMasker(job.id);
  await db
    .update(jobs)
    .set({ state: result.state, finishedAt: new Date(), error: result.error ?? null, leaseExpiresAt: null })
    .where(eq(jobs.id, jobId));
  if (result.state === 'succeeded') {
    const [gate] = await db
      .select()
      .from(runSteps)
      .where(and(eq(runSteps.runId, job.runId), eq(runSteps.jobIndex, job.index), eq(runSteps.type, 'step.gate')));
    if (gate) {
      await openGate(db, events, job.runId, gate.index);
      return;
    }
  }
  await settleRun(db, events, job.runId, await successState(db, job.runId, result.state), result.error ?? null, result.outputs);
}

/** Cancels a queued run at once; a running one is flagged and its runner stops it. */
export async function cancelRun(db: Db, events: EventBus, runId: string, cancelledBy: string | null = null) {
  const run = await getRun(db, runId);
  if (FINAL_STATES.includes(run.state)) throw new ApiError(409, 'already_finished', `run #${run.number} already ended ${run.state}`);
  await db.update(runs).set({ cancelRequestedAt: new Date(), cancelledBy }).where(eq(runs.id, runId));
  events.publish({ type: 'cancel.requested', runId });
  if (run.state === 'queued' || run.state === 'waiting') {
    await db
      .update(jobs)
      .set({ state: 'cancelled', finishedAt: new Date() })
      .where(and(eq(jobs.runId, runId), eq(jobs.state, 'queued')));
    await settleRun(db, events, runId, 'cancelled', run.state === 'waiting' ? 'cancelled while waiting for approval' : 'cancelled before a runner took it');
  }
  return getRun(db, runId);
}

/**
 * Jobs whose lease lapsed lost their runner: requeue them when the pipeline asked for that and attempts
 * remain, otherwise end the run (cancelled if a cancel was pending, else failed with "runner lost").
 */
export async function expireLeases(db: Db, events: EventBus, now = Date.now()): Promise<number> {
  const lapsed = await db
    .select({ job: jobs, cancelRequestedAt: runs.cancelRequestedAt })
    .from(jobs)
    .innerJoin(runs, eq(runs.id, jobs.runId))
    .where(and(eq(jobs.state, 'running'), lt(jobs.leaseExpiresAt, new Date(now))));
  for (const { job, cancelRequestedAt } of lapsed) {
    const requeue = !cancelRequestedAt && job.retryOnRunnerLost && job.attempt < job.maxAttempts;
    const updated = await db
      .update(jobs)
      .set(
        requeue
          ? { state: 'queued', runnerId: null, leaseExpiresAt: null, error: 'runner lost; requeued' }
          : { state: cancelRequestedAt ? 'cancelled' : 'failed', finishedAt: new Date(now), error: 'runner lost' },
      )
      .where(and(eq(jobs.id, job.id), eq(jobs.state, 'running'), lt(jobs.leaseExpiresAt, new Date(now))))
      .returning({ id: jobs.id });
    if (updated.length === 0) continue;
    if (requeue) {
      await resetJobSteps(db, job.runId, job.index);
      events.publish({ type: 'job.queued', runId: job.runId, jobIndex: job.index });
    } else {
      await settleRun(db, events, job.runId, cancelRequestedAt ? 'cancelled' : 'failed', cancelRequestedAt ? 'cancelled (runner lost)' : 'runner lost');
    }
  }
  return lapsed.length;
}

export async function runOfHeldJob(db: Db, runner: AuthRunner, jobId: string): Promise<string> {
  return (await heldJob(db, runner, jobId)).runId;
}

/** Of the jobs a runner says it is running, those whose run has a pending cancel. */
export async function cancelledJobs(db: Db, runner: AuthRunner, jobIds: string[]): Promise<string[]> {
  if (jobIds.length === 0) return [];
  const rows = await db
    .select({ id: jobs.id, cancelRequestedAt: runs.cancelRequestedAt })
    .from(jobs)
    .innerJoin(runs, eq(runs.id, jobs.runId))
    .where(and(inArray(jobs.id, jobIds), eq(jobs.runnerId, runner.id)));
  return rows.filter((r) => r.cancelRequestedAt).map((r) => r.id);
}

/** A runner shutting down hands a job back: it is queued again from its first step. */
export async function releaseJob(db: Db, events: EventBus, runner: AuthRunner, jobId: string) {
  const job = await heldJob(db, runner, jobId);
  await db
    .update(jobs)
    .set({ state: 'queued', runnerId: null, leaseExpiresAt: null, error: `handed back by runner ${runner.name}` })
    .where(eq(jobs.id, jobId));
  await resetJobSteps(db, job.runId, job.index);
  events.publish({ type: 'job.queued', runId: job.runId, jobIndex: job.index });
}

/**
 * A job queued again starts over from its first step, so its own steps (and the compensation steps, which
 * run inside whichever job failed) go back to pending and lose their log chunks, numbered from 0 again by
 * the next attempt. Steps of earlier jobs keep their state, outputs and logs.
 */
async function resetJobSteps(db: Db, runId: string, jobIndex: number) {
  const own = and(eq(runSteps.runId, runId), inArray(runSteps.jobIndex, [jobIndex, -1]));
  const indexes = (await db.select({ index: runSteps.index }).from(runSteps).where(own)).map((s) => s.index);
  if (indexes.length === 0) return;
  await db.batch([
    db.delete(logChunks).where(and(eq(logChunks.runId, runId), inArray(logChunks.stepIndex, indexes))),
    db.update(runSteps).set({ state: 'pending', startedAt: null, finishedAt: null, exitCode: null, error: null, outputs: null, logBytes: 0 }).where(own),
  ]);
}

/**
 * Ends lost runners' jobs and decides timed-out gates at once and then every `intervalMs` (claims do not sweep:
 * with many runners that cost a sweep per runner per job); returns a stop function.
 */
export function startLeaseSweeper(db: Db, events: EventBus, intervalMs: number, onError: (error: Error) => void = () => undefined): () => void {
  const sweep = () => void Promise.all([expireLeases(db, events), expireGates(db, events)]).catch(onError);
  sweep();
  const timer = setInterval(sweep, intervalMs);
  timer.unref?.();
  return () => clearInterval(timer);
}
