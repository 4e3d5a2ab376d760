import { parseDuration } from '../engine/schema/common.ts';
import { isBuiltStep } from '../engine/schema/steps.ts';
import type { Pipeline, Step, Workflow, WorkflowModule } from '../engine/schema/workflow.ts';
import type { PipelinePlan } from '../engine/plan.ts';
import type { JobSpec, StepSpec } from '../../runners/protocol/v1.ts';

/** Steps of a pipeline in run order with their run-wide index; compensation steps come last. */
export function runStepList(pipeline: Pipeline, plan: PipelinePlan) {
  const main = pipeline.steps.map((step, index) => ({ step, index, job: plan.steps[index]?.job ?? 0, compensation: false }));
  const compensation = (pipeline.compensation ?? []).map((step, i) => ({ step, index: main.length + i, job: -1, compensation: true }));
  return [...main, ...compensation];
}

/**
 * A deploy carries its environment's secrets and no other step does. A deploy the server refuses (a
 * protected environment) is sent as a step.fail with the reason, so it fails where it stands.
 */
function stepSpec(step: Step, index: number, context: JobContext): StepSpec {
  const refusal = context.deployRefusals?.[index];
  const environment = isBuiltStep(step, 'step.deploy') ? step.config.environment : undefined;
  const secrets = environment === undefined || refusal ? undefined : context.environmentSecrets?.[environment];
  return {
    index,
    name: step.name,
    type: refusal ? 'step.fail' : step.type,
    config: refusal ? { message: refusal } : step.config,
    if: step.if,
    skip_if: step.skip_if,
    timeoutMs: step.timeout ? parseDuration(step.timeout) : null,
    continueOnError: step.continue_on_error ?? false,
    ...(secrets ? { secrets } : {}),
    // A plugin step runs with the plugin version its published version pinned (set by the build).
    ...(step.plugin && !refusal ? { plugin: step.plugin } : {}),
  };
}

/** Input values with declared defaults filled in; throws a message naming the input on bad values. */
export function resolveInputs(pipeline: Pipeline, given: Record<string, unknown>): Record<string, unknown> {
  const declared = pipeline.inputs ?? {};
  const unknown = Object.keys(given).filter((name) => !(name in declared));
  if (unknown.length) throw new Error(`unknown input "${unknown[0]}"; the pipeline declares ${Object.keys(declared).join(', ') || 'no inputs'}`);
  const out: Record<string, unknown> = {};
  for (const [name, input] of Object.entries(declared)) {
    let value = given[name] ?? input.default;
    if (value === undefined) {
      if (input.required) throw new Error(`input "${name}" is required`);
      continue;
    }
    if (input.type === 'number') {
      value = typeof value === 'number' ? value : Number(value);
      if (!Number.isFinite(value)) throw new Error(`input "${name}" must be a number`);
    } else if (input.type === 'boolean') {
      if (typeof value !== 'boolean') {
        if (value !== 'true' && value !== 'false') throw new Error(`input "${name}" must be true or false`);
        value = value === 'true';
      }
    } else {
      value = String(value);
      if (input.type === 'choice' && !input.options?.includes(value as string)) {
        throw new Error(`input "${name}" must be one of ${input.options?.join(', ')}`);
      }
    }
    out[name] = value;
  }
  return out;
}

export interface JobContext {
  jobId: string;
  /** Which job of the pipeline; `all` runs every job's steps in one (local exec has no one to approve gates). */
  jobIndex: number | 'all';
  runId: string;
  runNumber: number;
  pipelineName: string;
  inputs: Record<string, unknown>;
  trigger: Record<string, unknown>;
  /** Workflow secrets, which every step sees. */
  secrets: Record<string, string>;
  /** Secrets by environment name, given only to the deploy steps that target that environment. */
  environmentSecrets?: Record<string, Record<string, string>>;
  /** Deploy steps (by run-wide index) the server refuses, with the reason they fail with. */
  deployRefusals?: Record<number, string>;
  leaseMs: number;
  priorOutputs?: Record<string, Record<string, unknown>>;
  priorContext?: Record<string, unknown>;
}

export const workspaceArtifactKey = (jobIndex: number) => `_workspace/job-${jobIndex}`;

/** The job a runner executes: the steps of one job of the pipeline, with everything needed to run them. */
export function jobSpecFor(workflow: Workflow, plan: PipelinePlan, context: JobContext): JobSpec {
  const pipeline = workflow.pipelines[context.pipelineName]!;
  const list = runStepList(pipeline, plan);
  const lastJob = plan.jobs - 1;
  const jobIndex = context.jobIndex;
  const stringEnv = Object.fromEntries(Object.entries(pipeline.env ?? {}).map(([k, v]) => [k, String(v)]));
  return {
    jobId: context.jobId,
    runId: context.runId,
    runNumber: context.runNumber,
    workflow: workflow.name,
    pipeline: context.pipelineName,
    version: workflow.version === undefined ? null : String(workflow.version),
    // Gates are decided by the server between jobs; with `all` (local exec) there is nobody to ask.
    steps: list
      .filter((s) => !s.compensation && s.step.type !== 'step.gate' && (jobIndex === 'all' || s.job === jobIndex))
      .map((s) => stepSpec(s.step, s.index, context)),
    compensation: list.filter((s) => s.compensation).map((s) => stepSpec(s.step, s.index, context)),
    onError: pipeline.on_error,
    env: stringEnv,
    inputs: context.inputs,
    trigger: context.trigger,
    secrets: context.secrets,
    strictTemplates: pipeline.strict_templates,
    timeoutMs: parseDuration(pipeline.timeout) ?? 3_600_000,
    leaseMs: context.leaseMs,
    priorOutputs: context.priorOutputs ?? {},
    priorContext: context.priorContext ?? {},
    restoreWorkspace: jobIndex !== 'all' && jobIndex > 0 ? workspaceArtifactKey(jobIndex - 1) : null,
    saveWorkspace: jobIndex !== 'all' && jobIndex < lastJob ? workspaceArtifactKey(jobIndex) : null,
    modules: Object.fromEntries(
      (workflow.modules ?? []).map((m) => [(m as WorkflowModule).name, { type: (m as WorkflowModule).type, config: (m as WorkflowModule).config }]),
    ),
  };
}
