import { parseDuration } from './schema/common.ts';
import { stepTypesByName, type StepTypeDef } from './schema/steps.ts';
import type { Step, Workflow } from './schema/workflow.ts';

export interface PlanStep {
  name: string;
  type: string;
  description: string;
  /** Index of the job the step runs in; a gate ends one job and the next starts after approval. */
  job: number;
  timeoutMs: number | null;
  condition: { if?: string; skip_if?: string } | null;
  continueOnError: boolean;
  outputs: string[];
}

export interface PlanEdge {
  from: string;
  to: string;
  kind: 'sequence' | 'data' | 'needs' | 'route';
}

export interface PlanTrigger {
  type: 'manual' | 'http' | 'schedule';
  path?: string;
  method?: string;
  cron?: string;
  timezone?: string;
}

export interface PipelinePlan {
  name: string;
  triggers: PlanTrigger[];
  runsOn: string[];
  timeoutMs: number;
  onError: 'stop' | 'skip' | 'compensate';
  jobs: number;
  steps: PlanStep[];
  compensation: PlanStep[];
  edges: PlanEdge[];
  inputs: Record<string, { type: string; required: boolean; default?: string | number | boolean; options?: string[]; description?: string }>;
}

export interface Plan {
  workflow: string;
  version: string | null;
  pipelines: PipelinePlan[];
}

function planStep(step: Step, job: number, stepTypes: ReadonlyMap<string, StepTypeDef>): PlanStep {
  const def = stepTypes.get(step.type);
  const outputs = def?.dynamicOutputs ? Object.keys((step.config.values as object) ?? {}) : Object.keys(def?.outputs ?? {});
  return {
    name: step.name,
    type: step.type,
    description: def?.description ?? '',
    job,
    timeoutMs: step.timeout ? parseDuration(step.timeout) : null,
    condition: step.if || step.skip_if ? { if: step.if, skip_if: step.skip_if } : null,
    continueOnError: step.continue_on_error ?? false,
    outputs,
  };
}

function toPlanTrigger(trigger: { type: string; config?: Record<string, unknown> }): PlanTrigger {
  const config = trigger.config ?? {};
  if (trigger.type === 'http') return { type: 'http', path: String(config.path), method: String(config.method) };
  if (trigger.type === 'schedule') return { type: 'schedule', cron: String(config.cron), timezone: String(config.timezone) };
  return { type: 'manual' };
}

/** The execution plan of a built workflow: jobs, ordered steps and the edges between them. */
export function planWorkflow(
  workflow: Workflow,
  dataDependencies: Map<string, Map<string, Set<string>>>,
  stepTypes: ReadonlyMap<string, StepTypeDef> = stepTypesByName,
): Plan {
  const pipelines = Object.entries(workflow.pipelines).map(([name, pipeline]): PipelinePlan => {
    let job = 0;
    const steps = pipeline.steps.map((step, i, all) => {
      const planned = planStep(step, job, stepTypes);
      if (step.type === 'step.gate' && i < all.length - 1) job++;
      return planned;
    });
    const edges: PlanEdge[] = [];
    steps.forEach((step, i) => {
      if (i > 0) edges.push({ from: steps[i - 1]!.name, to: step.name, kind: 'sequence' });
    });
    const reads = dataDependencies.get(name) ?? new Map<string, Set<string>>();
    for (const step of [...pipeline.steps, ...(pipeline.compensation ?? [])]) {
      for (const from of reads.get(step.name) ?? []) edges.push({ from, to: step.name, kind: 'data' });
      for (const from of step.needs ?? []) edges.push({ from, to: step.name, kind: 'needs' });
      if (step.type === 'step.conditional') {
        const targets = new Set([
          ...Object.values(step.config.routes as Record<string, string>),
          ...(step.config.default ? [String(step.config.default)] : []),
        ]);
        for (const to of targets) edges.push({ from: step.name, to, kind: 'route' });
      }
    }
    const triggers = [
      ...(pipeline.trigger ? [toPlanTrigger(pipeline.trigger)] : []),
      ...(workflow.triggers ?? []).filter((t) => t.pipeline === name).map(toPlanTrigger),
    ];
    return {
      name,
      triggers: triggers.length > 0 ? triggers : [{ type: 'manual' }],
      runsOn: pipeline.runs_on,
      timeoutMs: parseDuration(pipeline.timeout) ?? 3_600_000,
      onError: pipeline.on_error,
      jobs: job + 1,
      steps,
      compensation: (pipeline.compensation ?? []).map((step) => planStep(step, job, stepTypes)),
      edges,
      inputs: Object.fromEntries(
        Object.entries(pipeline.inputs ?? {}).map(([inputName, input]) => [
          inputName,
          { type: input.type, required: input.required, default: input.default, options: input.options, description: input.description },
        ]),
      ),
    };
  });
  return { workflow: workflow.name, version: workflow.version === undefined ? null : String(workflow.version), pipelines };
}
