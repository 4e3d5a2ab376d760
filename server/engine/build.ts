import { checkWorkflow } from './checks.ts';
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { normaliseWorkflow } from './normalise.ts';
import { planWorkflow, type Plan } from './plan.ts';
import { bindDeployProviders } from './plugin-deploy.ts';
import { languageFor, type AvailableTypes, type Language } from './plugin-language.ts';
import type { InstalledPlugin, PluginPin } from './plugin-manifest.ts';
import { checkPluginUse, missingPluginHint, pinsOf, readRequirements, resolvePlugins } from './plugin-requires.ts';
import { isPluginStepType } from './plugin-steps.ts';
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

export interface BuildOptions {
  /** Installed plugin versions (any number per plugin); `requires.plugins` picks one version of each. */
  plugins?: readonly InstalledPlugin[];
}

export type BuildResult =
  | ({
      ok: true;
      workflow: Workflow;
      plan: Plan;
      diagnostics: Diagnostic[];
      /** The exact plugin versions the build used: what a published version pins. */
      pluginPins: PluginPin[];
      /** Every type the build could use, plugin step types included. */
      available: AvailableTypes;
    } & UsedTypes)
  | { ok: false; error: string; diagnostics: Diagnostic[]; available?: AvailableTypes };

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

/** Marks each plugin step, and each deploy to a plugin provider, with the plugin version that runs it (what the run spec sends to the runner). */
function bindPluginSteps(workflow: Workflow, language: Language): void {
  for (const pipeline of Object.values(workflow.pipelines)) {
    for (const step of [...pipeline.steps, ...(pipeline.compensation ?? [])]) {
      const def = language.stepTypesByName.get(step.type);
      if (isPluginStepType(def)) step.plugin = def.plugin;
    }
  }
  bindDeployProviders(workflow, language.deployProvidersByName);
}

/**
 * Parses, validates, normalises, checks and plans a workflow. Pure: no I/O, same input → same result.
 * `fallbackName` names a workflow whose file has no `name`. When the schema fails, the parts that are valid on
 * their own are still checked, so that every independent problem is reported at once. With `options.plugins`,
 * the step types of the plugins the workflow requires are checked like built-in ones.
 */
export function buildWorkflow(input: string | Uint8Array, fallbackName?: string, options: BuildOptions = {}): BuildResult {
  const parsed = parseSource(input);
  if (!parsed.ok) return { ok: false, error: summarise(parsed.diagnostics), diagnostics: sortDiagnostics(parsed.diagnostics), available: availableTypes };
  const { source } = parsed;
  const name = workflowName(source.value, fallbackName);
  const resolution = resolvePlugins(readRequirements(source.value), options.plugins ?? []);
  const language = languageFor(resolution.chosen.map((choice) => choice.plugin));
  const { available } = language;
  const pluginUse = checkPluginUse(source, language, resolution);
  const validated = validateWorkflow(source, language, missingPluginHint(resolution));
  if (!validated.ok) {
    const salvaged = salvageWorkflow(source.value, name, language.schemas);
    const later = salvaged
      ? [
          ...normaliseWorkflow(source, salvaged.workflow, salvaged.placeholders),
          ...checkWorkflow(source, salvaged.workflow, salvaged.placeholders, language.stepTypesByName).diagnostics,
        ]
      : [];
    const diagnostics = sortDiagnostics(unique([...validated.diagnostics, ...pluginUse, ...later]));
    return { ok: false, error: summarise(diagnostics), diagnostics, available };
  }
  const workflow: Workflow = { ...validated.workflow, name };
  const normalised = normaliseWorkflow(source, workflow);
  const checked = checkWorkflow(source, workflow, undefined, language.stepTypesByName);
  const diagnostics = sortDiagnostics([...pluginUse, ...normalised, ...checked.diagnostics]);
  if (hasErrors(diagnostics)) return { ok: false, error: summarise(diagnostics), diagnostics, available };
  bindPluginSteps(workflow, language);
  return {
    ok: true,
    workflow,
    plan: planWorkflow(workflow, checked.dataDependencies, language.stepTypesByName),
    diagnostics,
    pluginPins: pinsOf(resolution),
    available,
    ...usedTypes(workflow),
  };
}

export { availableTypes };
