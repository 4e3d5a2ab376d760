import { and, asc, eq, inArray, lt } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { gateDecisions, jobs, runs, runSteps } from '../../db/schema.ts';
import type { AuthUser } from './auth.ts';
import { ApiError } from './errors.ts';
import { conditionHolds } from '../engine/expressions.ts';
import { parseDuration } from '../engine/schema/common.ts';
import { isBuiltStep } from '../engine/schema/steps.ts';
import type { Workflow } from '../engine/schema/workflow.ts';
import { builtVersion } from './built-versions.ts';
import { settleRun } from './run-settle.ts';
import { hasRole } from './auth.ts';
import { renderGateMessage } from './gate-message.ts';
import { deploySteps } from '../engine/environment-access.ts';
import { environmentProtections } from './environments.ts';
import { runSecretValues } from './secret-masking.ts';
import { SecretMasker } from '../engine/masker.ts';
import type { EventBus } from './events.ts';

async function gateContext(db: Db, runId: string, stepIndex: number) {
  const [run] = await db.select().from(runs).where(eq(runs.id, runId));
  if (!run) throw new ApiError(404, 'not_found', `run ${runId} not found`);
  const build = await builtVersion(db, run.workflowId, run.version);
  const step = build.workflow.pipelines[run.pipeline]!.steps[stepIndex];
  if (!step || !isBuiltStep(step, 'step.gate')) throw new Error(`step ${stepIndex} of run ${runId} is not a step.gate`);
  return { run, build, step, config: step.config, guards: await protectedDeploysAfter(db, build.workflow, run.pipeline, stepIndex) };
}

/**
 * The protected environments with approvers that the job after this gate deploys to. Such a gate is decided
 * by those environments' approvers (set by an admin), whatever the workflow file says: no auto-approval, no
 * approval on timeout, and the file's approvers cannot widen who decides.
 */
async function protectedDeploysAfter(db: Db, workflow: Workflow, pipeline: string, gateIndex: number) {
  const steps = workflow.pipelines[pipeline]!.steps;
  const nextGate = steps.findIndex((s, i) => i > gateIndex && s.type === 'step.gate');
  const end = nextGate === -1 ? steps.length : nextGate;
  const targets = deploySteps(workflow, pipeline)
    .filter((d) => d.section === 'steps' && d.index > gateIndex && d.index < end)
    .map((d) => d.environment);
  return (await environmentProtections(db, targets)).filter((e) => e.protected && e.approvers.length > 0);
}

/** Step outputs by name, as gate conditions read them: `steps.scan.passed_gate`. */
async function outputsSoFar(db: Db, runId: string, beforeIndex: number) {
  const rows = await db
    .select()
    .from(runSteps)
    .where(and(eq(runSteps.runId, runId), lt(runSteps.index, beforeIndex)))
    .orderBy(asc(runSteps.index));
  return { steps: Object.fromEntries(rows.map((r) => [r.name, { ...(r.outputs ?? {}), state: r.state }])) };
}

/** Records a decision; approval queues the next job, rejection ends the run failed. */
async function decide(
  db: Db,
  events: EventBus,
  runId: string,
  stepIndex: number,
  decision: 'approved' | 'rejected',
  via: 'manual' | 'auto' | 'timeout',
  user: AuthUser | null,
  comment: string,
) {
  const passed = decision === 'approved';
  const reason = comment || (via === 'auto' ? 'approve conditions held' : via === 'timeout' ? `timed out: ${decision} by on_timeout` : decision);
  const [step] = await db
    .select()
    .from(runSteps)
    .where(and(eq(runSteps.runId, runId), eq(runSteps.index, stepIndex)));
  const changed = await db
    .update(runSteps)
    .set({
      state: passed ? 'succeeded' : 'failed',
      finishedAt: new Date(),
      waitingUntil: null,
      outputs: { gate_result: { passed, type: via, reason } },
      error: passed ? null : `gate ${decision}: ${reason}`,
    })
    .where(and(eq(runSteps.runId, runId), eq(runSteps.index, stepIndex), inArray(runSteps.state, ['pending', 'waiting'])))
    .returning({ index: runSteps.index });
  if (changed.length === 0) throw new ApiError(409, 'not_waiting', 'this gate is not waiting for a decision');
  await db.insert(gateDecisions).values({ runId, stepIndex, decision, via, userId: user?.id ?? null, comment });
  if (!passed) {
    await settleRun(db, events, runId, 'failed', `gate ${step?.name ?? stepIndex} rejected${user ? ` by ${user.email}` : ''}${comment ? `: ${comment}` : ''}`);
    events.publish({ type: 'gate.decided', runId, stepIndex, decision, via });
    return;
  }
  const nextIndex = (step?.jobIndex ?? 0) + 1;
  const [first] = await db
    .select({ retry: jobs.retryOnRunnerLost, max: jobs.maxAttempts, runsOn: jobs.runsOn })
    .from(jobs)
    .where(and(eq(jobs.runId, runId), eq(jobs.index, 0)));
  await db
    .insert(jobs)
    .values({ runId, index: nextIndex, runsOn: first?.runsOn ?? [], retryOnRunnerLost: first?.retry ?? false, maxAttempts: first?.max ?? 1 });
  await db.update(runs).set({ state: 'queued' }).where(eq(runs.id, runId));
  events.publish({ type: 'gate.decided', runId, stepIndex, decision, via });
  events.publish({ type: 'job.queued', runId, jobIndex: nextIndex });
}

/** After the job before a gate: approve at once when the conditions hold, else wait without a runner. */
export async function openGate(db: Db, events: EventBus, runId: string, stepIndex: number): Promise<void> {
  const { config, guards } = await gateContext(db, runId, stepIndex);
  const conditions = config.auto_approve_conditions ?? [];
  const data = await outputsSoFar(db, runId, stepIndex);
  // Before a protected deploy the environment's approvers decide: neither conditions nor type auto stand in for them.
  const guarded = guards.length > 0;
  if (!guarded && conditions.length > 0 && conditions.every((condition) => conditionHolds(condition, data))) {
    await decide(db, events, runId, stepIndex, 'approved', 'auto', null, `approved: ${conditions.join(' and ')}`);
    return;
  }
  if (!guarded && config.type === 'auto') {
    await decide(db, events, runId, stepIndex, 'rejected', 'auto', null, `conditions did not hold: ${conditions.join(' and ') || 'none given'}`);
    return;
  }
  const waitingUntil = new Date(Date.now() + (parseDuration(config.timeout) ?? 86_400_000));
  const message = await renderGateMessage(db, runId, stepIndex, config.message);
  await db
    .update(runSteps)
    .set({ state: 'waiting', startedAt: new Date(), waitingUntil, ...(message ? { outputs: { message } } : {}) })
    .where(and(eq(runSteps.runId, runId), eq(runSteps.index, stepIndex)));
  await db.update(runs).set({ state: 'waiting' }).where(eq(runs.id, runId));
}

/** `approvers` lists e-mails and `role:<role>` entries; with none listed, any editor may decide. */
export function mayDecide(user: AuthUser, approvers: string[] | undefined): boolean {
  if (!approvers || approvers.length === 0) return hasRole(user, 'editor');
  return approvers.some((entry) =>
    entry.startsWith('role:') ? hasRole(user, entry.slice(5) as AuthUser['role']) : entry.toLowerCase() === user.email.toLowerCase(),
  );
}

export async function decideGate(
  db: Db,
  events: EventBus,
  runId: string,
  stepName: string,
  decision: 'approved' | 'rejected',
  user: AuthUser,
  comment: string,
  secretsKey: CryptoKey,
) {
  const [step] = await db
    .select()
    .from(runSteps)
    .where(and(eq(runSteps.runId, runId), eq(runSteps.name, stepName)));
  if (!step || step.type !== 'step.gate') throw new ApiError(404, 'not_found', `this run has no gate "${stepName}"`);
  if (step.state !== 'waiting') throw new ApiError(409, 'not_waiting', `gate "${stepName}" is ${step.state}, not waiting for a decision`);
  const { run, build, config, guards } = await gateContext(db, runId, step.index);
  const refused = guards.find((environment) => !mayDecide(user, environment.approvers));
  if (refused) {
    throw new ApiError(
      403,
      'not_an_approver',
      `only ${refused.approvers.join(', ')} may decide gate "${stepName}": it guards a deploy to protected environment "${refused.name}"`,
    );
  }
  if (guards.length === 0 && !mayDecide(user, config.approvers)) {
    throw new ApiError(403, 'not_an_approver', `only ${config.approvers?.join(', ')} may decide gate "${stepName}"`);
  }
  // The comment lands in the run's outputs and error, which viewers and share links see.
  const masker = new SecretMasker(await runSecretValues(db, secretsKey, run.workflowId, build.workflow, run.pipeline));
  await decide(db, events, runId, step.index, decision, 'manual', user, masker.mask(comment));
}

export async function listGateDecisions(db: Db, runId: string) {
  return db.select().from(gateDecisions).where(eq(gateDecisions.runId, runId)).orderBy(asc(gateDecisions.createdAt));
}

/** Gates past their timeout decide by on_timeout. */
export async function expireGates(db: Db, events: EventBus, now = new Date()): Promise<number> {
  const due = await db
    .select()
    .from(runSteps)
    .where(and(eq(runSteps.state, 'waiting'), lt(runSteps.waitingUntil, now)));
  for (const step of due) {
    const { config, guards } = await gateContext(db, step.runId, step.index);
    const approve = config.on_timeout === 'approve' && guards.length === 0;
    // Someone may decide the gate in the same moment: their decision stands. Any other failure reaches the caller.
    await decide(db, events, step.runId, step.index, approve ? 'approved' : 'rejected', 'timeout', null, '').catch((error: unknown) => {
      if (!(error instanceof ApiError && error.code === 'not_waiting')) throw error;
    });
  }
  return due.length;
}
