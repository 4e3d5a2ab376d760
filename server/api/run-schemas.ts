import { z } from '@hono/zod-openapi';
import { runStates, stepStates } from '../../db/schema.ts';
import type { getRun, listRuns } from '../services/runs.ts';
import type { sharedRunView } from '../services/shares.ts';
import { withIsoDates as iso } from './json-dates.ts';
import { JsonObjectSchema, orNull } from './validation.ts';

/** `succeeded_with_warnings`: it got through, but `continue_on_error` steps failed on the way. */
const RunStateSchema = z.enum(runStates).openapi('RunState');
const StepStateSchema = z.enum(stepStates).openapi('StepState');
const runTriggerTypes = ['manual', 'http', 'schedule', 'rerun'] as const;
const TriggerTypeSchema = z.enum(runTriggerTypes).openapi('RunTriggerType');
type RunTriggerType = (typeof runTriggerTypes)[number];

const UserRefSchema = z.object({ id: z.string(), name: z.string(), email: z.string() }).openapi('UserRef');

const RunTriggerSchema = z
  .object({
    type: TriggerTypeSchema,
    user: orNull(UserRefSchema).openapi({ description: 'The user who started it (manual runs and re-runs)' }),
    deliveryId: z.string().nullable().openapi({ description: "The webhook delivery's X-Flowyard-Delivery id" }),
    scheduledFor: z.string().nullable().openapi({ description: 'The schedule slot it ran for (ISO time)' }),
    rerunOf: z
      .object({ run_id: z.string(), number: z.number().int(), from_job: z.number().int() })
      .nullable()
      .openapi({ description: 'The run this one re-ran, and the job it started at (0: the whole run)' }),
  })
  .openapi('RunTrigger', { description: 'Who or what started a run' });

export const RunSummarySchema = z
  .object({
    id: z.string(),
    workflowId: z.string(),
    number: z.number().int().openapi({ description: 'Numbered per workflow: #1, #2, ...' }),
    version: z.number().int(),
    pipeline: z.string(),
    state: RunStateSchema,
    triggerType: TriggerTypeSchema,
    triggeredBy: z.string().nullable(),
    trigger: RunTriggerSchema,
    inputs: JsonObjectSchema,
    triggerPayload: JsonObjectSchema,
    outputs: orNull(JsonObjectSchema),
    error: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    cancelRequestedAt: z.string().nullable(),
    cancelledBy: z.string().nullable().openapi({ description: 'The user who cancelled it' }),
  })
  .openapi('RunSummary');

const RunStepSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    jobIndex: z.number().int(),
    index: z.number().int(),
    name: z.string(),
    type: z.string(),
    state: StepStateSchema,
    exitCode: z.number().int().nullable(),
    outputs: orNull(JsonObjectSchema),
    error: z.string().nullable(),
    logBytes: z.number().int(),
    waitingUntil: z.string().nullable().openapi({ description: 'A waiting gate decides by itself (on_timeout) at this time' }),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi('RunStep');

const RunJobSchema = z
  .object({
    id: z.string(),
    index: z.number().int(),
    state: RunStateSchema,
    runnerId: z.string().nullable(),
    attempt: z.number().int(),
    error: z.string().nullable(),
  })
  .openapi('RunJob');

const GateDecisionSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    stepIndex: z.number().int(),
    decision: z.enum(['approved', 'rejected']),
    via: z.enum(['manual', 'auto', 'timeout']).openapi({ description: 'manual (a person), auto (its conditions held) or timeout (its on_timeout)' }),
    userId: z.string().nullable(),
    comment: z.string(),
    createdAt: z.string(),
  })
  .openapi('GateDecision');

export const RunSchema = RunSummarySchema.extend({
  workflowName: z.string(),
  steps: z.array(RunStepSchema),
  jobs: z.array(RunJobSchema),
  gateDecisions: z.array(GateDecisionSchema),
  cancelledByUser: orNull(UserRefSchema),
  runnerNames: z
    .record(z.string(), z.string().nullable())
    .openapi({ description: 'The name of the runner that ran each job, by job id (null before one took it)' }),
  waitingReason: z.string().nullable().openapi({ description: 'Why a queued run has not started; null otherwise' }),
}).openapi('Run');

export const ArtifactSchema = z.object({ key: z.string(), size: z.number().int(), sha256: z.string(), createdAt: z.string() }).openapi('Artifact');

const SharedStepSchema = RunStepSchema.pick({
  name: true,
  type: true,
  state: true,
  exitCode: true,
  startedAt: true,
  finishedAt: true,
  logBytes: true,
  error: true,
}).openapi('SharedStep');

/** What a share link shows; a `Run` has all of it too. */
export const SharedRunSchema = z
  .object({
    workflowName: z.string(),
    number: z.number().int(),
    pipeline: z.string(),
    state: RunStateSchema,
    error: z.string().nullable(),
    triggerType: TriggerTypeSchema,
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    steps: z.array(SharedStepSchema),
  })
  .openapi('SharedRun');

type RunRow = Awaited<ReturnType<typeof listRuns>>['runs'][number];
type RunDetail = Awaited<ReturnType<typeof getRun>>;

/** The trigger type column is free text in the database; the services only ever write these. */
const withTriggerType = <T extends { triggerType: string; trigger: { type: string } }>(run: T) => ({
  ...run,
  triggerType: run.triggerType as RunTriggerType,
  trigger: { ...run.trigger, type: run.trigger.type as RunTriggerType },
});

export const runSummaryBody = (run: RunRow) => withTriggerType(iso(run));

export const runBody = (run: RunDetail) => ({
  ...withTriggerType(iso(run)),
  steps: run.steps.map(iso),
  gateDecisions: run.gateDecisions.map(iso),
});

export const sharedRunBody = (view: Awaited<ReturnType<typeof sharedRunView>>) => ({
  ...iso(view),
  triggerType: view.triggerType as RunTriggerType,
  steps: view.steps.map(iso),
});
