import { checkWorkflow } from './checks.ts';
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { normaliseWorkflow } from './normalise.ts';
import { planWorkflow, type Plan } from './plan.ts';
import { salvageWorkflow } from './salvage.ts';
import { identifier } from './schema/common.ts';
import type { Workflow, WorkflowModule } from './schema/workflow.ts';
import { parseSource } from './source.ts';
import { availableTypes, validateWorkflow } from './validate.ts';

export interface UsedTypes {
  moduleTypes: string[];
  stepTypes: string[];
  triggerTypes: string[];
}

export type BuildResult =
  ({ ok: true; workflow: Workflow; plan: Plan; diagnostics: Diagnostic[] } & UsedTypes) | { ok: false; error: string; diagnostics: Diagnostic[] };

const sortedUnique = (values: Iterable<string>) => [...new Set(values)].sort();

function usedTypes(workflow: Workflow): UsedTypes {
  const pipelines = Object.values(workflow.pipelines);
  return {
    moduleTypes: sortedUnique((workflow.modules ?? []).map((m) => (m as WorkflowModule).type)),
    stepTypes: sortedUnique(pipelines.flatMap((p) => [...p.steps, ...(p.compensation ?? [])].map((s) => (s as { type: string }).type))),
    triggerTypes: sortedUnique([...pipelines.map((p) => p.trigger?.type ?? 'manual'), ...(workflow.triggers ?? []).map((t) => t.type)]),
  };
}

function summarise(diagnostics: Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0];
  if (!first) return 'build failed';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  return `line ${first.line}, column ${first.column}: ${first.message}${more}`;
}

/** Diagnostics found twice (by the schema and by a check of a salvaged part) are reported once. */
function unique(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.line}:${d.column}:${d.code}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The workflow's name: its own `name`, else the fallback (the name it is saved under, or a file name without
 * its extension) made into a valid name, else "workflow".
 */
export function workflowName(value: unknown, fallback?: string): string {
  const own = (value as { name?: unknown } | null)?.name;
  if (typeof own === 'string' && identifier.safeParse(own).success) return own;
  const cleaned = (fallback ?? '')
    .replace(/\.ya?ml$/i, '')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100);
  return cleaned || 'workflow';
}

/**
 * Parses, validates, normalises, checks and plans a workflow. Pure: no I/O, same input → same result.
 * `fallbackName` names a workflow whose file has no `name`. When the schema fails, the parts that are valid on
 * their own are still checked, so that every independent problem is reported at once.
 */
export function buildWorkflow(input: string | Uint8Array, fallbackName?: string): BuildResult {
  const parsed = parseSource(input);
  if (!parsed.ok) return { ok: false, error: summarise(parsed.diagnostics), diagnostics: sortDiagnostics(parsed.diagnostics) };
  const { source } = parsed;
  const name = workflowName(source.value, fallbackName);
  const validated = validateWorkflow(source);
  if (!validated.ok) {
    const salvaged = salvageWorkflow(source.value, name);
    const later = salvaged
      ? [...normaliseWorkflow(source, salvaged.workflow, salvaged.placeholders), ...checkWorkflow(source, salvaged.workflow, salvaged.placeholders).diagnostics]
      : [];
    const diagnostics = sortDiagnostics(unique([...validated.diagnostics, ...later]));
    return { ok: false, error: summarise(diagnostics), diagnostics };
  }
  const workflow: Workflow = { ...validated.workflow, name };
  const normalised = normaliseWorkflow(source, workflow);
  const checked = checkWorkflow(source, workflow);
  const diagnostics = sortDiagnostics([...normalised, ...checked.diagnostics]);
  if (hasErrors(diagnostics)) return { ok: false, error: summarise(diagnostics), diagnostics };
  return {
    ok: true,
    workflow,
    plan: planWorkflow(workflow, checked.dataDependencies),
    diagnostics,
    ...usedTypes(workflow),
  };
}

export { availableTypes };
