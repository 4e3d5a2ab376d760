import { checkWorkflow } from './checks.ts';
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { planWorkflow, type Plan } from './plan.ts';
import type { Workflow, WorkflowModule } from './schema/workflow.ts';
import { parseSource } from './source.ts';
import { availableTypes, validateWorkflow } from './validate.ts';

export interface UsedTypes {
  moduleTypes: string[];
  stepTypes: string[];
  triggerTypes: string[];
}

export type BuildResult =
  | ({ ok: true; workflow: Workflow; plan: Plan; diagnostics: Diagnostic[] } & UsedTypes)
  | { ok: false; error: string; diagnostics: Diagnostic[] };

const sortedUnique = (values: Iterable<string>) => [...new Set(values)].sort();

function usedTypes(workflow: Workflow): UsedTypes {
  const pipelines = Object.values(workflow.pipelines);
  return {
    moduleTypes: sortedUnique((workflow.modules ?? []).map((m) => (m as WorkflowModule).type)),
    stepTypes: sortedUnique(pipelines.flatMap((p) => [...p.steps, ...(p.compensation ?? [])].map((s) => (s as { type: string }).type))),
    triggerTypes: sortedUnique([
      ...pipelines.map((p) => p.trigger?.type ?? 'manual'),
      ...(workflow.triggers ?? []).map((t) => t.type),
    ]),
  };
}

function summarise(diagnostics: Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0];
  if (!first) return 'build failed';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  return `line ${first.line}, column ${first.column}: ${first.message}${more}`;
}

/** Parses, validates, checks and plans a workflow. Pure: no I/O, same input → same result. */
export function buildWorkflow(input: string | Uint8Array): BuildResult {
  const parsed = parseSource(input);
  if (!parsed.ok) return { ok: false, error: summarise(parsed.diagnostics), diagnostics: sortDiagnostics(parsed.diagnostics) };
  const validated = validateWorkflow(parsed.source);
  if (!validated.ok) return { ok: false, error: summarise(validated.diagnostics), diagnostics: sortDiagnostics(validated.diagnostics) };
  const checked = checkWorkflow(parsed.source, validated.workflow);
  const diagnostics = sortDiagnostics(checked.diagnostics);
  if (hasErrors(diagnostics)) return { ok: false, error: summarise(diagnostics), diagnostics };
  return {
    ok: true,
    workflow: validated.workflow,
    plan: planWorkflow(validated.workflow, checked.dataDependencies),
    diagnostics,
    ...usedTypes(validated.workflow),
  };
}

export { availableTypes };
