import type { Diagnostic } from './diagnostics.ts';
import { diagnosticAt } from './locate.ts';
import { isBuiltStep } from './schema/steps.ts';
import type { Workflow } from './schema/workflow.ts';
import type { SourceDocument } from './source.ts';

/** What an admin set on an environment; the server reads it from the database and hands it in. */
export interface EnvironmentProtection {
  name: string;
  protected: boolean;
  /** Workflow names allowed to deploy while protected. */
  allowedWorkflows: string[];
  /** E-mails or `role:<role>` whose approval every deployment needs; empty: no approval needed. */
  approvers: string[];
}

/** A step.deploy of a pipeline, where it stands and what it targets. */
export interface DeployStep {
  pipeline: string;
  section: 'steps' | 'compensation';
  /** Position in its section. */
  position: number;
  /** Run-wide index: compensation steps follow the main steps. */
  index: number;
  environment: string;
  /** A step.gate comes earlier in the main steps, so this deploy runs only after an approval. */
  gateBefore: boolean;
}

export function deploySteps(workflow: Workflow, pipelineName?: string): DeployStep[] {
  const out: DeployStep[] = [];
  for (const [pipeline, definition] of Object.entries(workflow.pipelines)) {
    if (pipelineName !== undefined && pipeline !== pipelineName) continue;
    const steps = definition.steps;
    let gateSeen = false;
    steps.forEach((step, position) => {
      if (step.type === 'step.gate') gateSeen = true;
      if (isBuiltStep(step, 'step.deploy'))
        out.push({ pipeline, section: 'steps', position, index: position, environment: step.config.environment, gateBefore: gateSeen });
    });
    (definition.compensation ?? []).forEach((step, position) => {
      if (isBuiltStep(step, 'step.deploy'))
        out.push({
          pipeline,
          section: 'compensation',
          position,
          index: steps.length + position,
          environment: step.config.environment,
          gateBefore: false,
        });
    });
  }
  return out;
}

export function notAllowedMessage(environment: string, workflowName: string): string {
  return `environment "${environment}" is protected: an admin must allow workflow "${workflowName}" to deploy to it (Environments → ${environment} → Allowed workflows)`;
}

/** Why `workflowName` may not deploy with this step, or null when it may. Build and run time give the same reason. */
export function deployRefusal(step: DeployStep, workflowName: string, environment: EnvironmentProtection | undefined): string | null {
  if (!environment?.protected) return null;
  if (!environment.allowedWorkflows.includes(workflowName)) return notAllowedMessage(step.environment, workflowName);
  if (environment.approvers.length === 0) return null;
  const needs = `environment "${step.environment}" is protected and its deployments need approval by ${environment.approvers.join(', ')}`;
  if (step.section === 'compensation') return `${needs}: a compensation step cannot wait for one, so it cannot deploy there`;
  if (!step.gateBefore) return `${needs}: put a step.gate before this step (the environment's approvers decide it)`;
  return null;
}

/** Build-time check of every deploy against the environments' protection, pointing at each `environment:` value. */
export function checkEnvironmentAccess(source: SourceDocument, workflow: Workflow, workflowName: string, environments: EnvironmentProtection[]): Diagnostic[] {
  const byName = new Map(environments.map((e) => [e.name, e]));
  return deploySteps(workflow).flatMap((step) => {
    const refusal = deployRefusal(step, workflowName, byName.get(step.environment));
    if (!refusal) return [];
    return [
      diagnosticAt(source, ['pipelines', step.pipeline, step.section, step.position, 'config', 'environment'], 'error', 'environment_protected', refusal),
    ];
  });
}
