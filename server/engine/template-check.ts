import type { Diagnostic, PathSegment } from './diagnostics.ts';
import { diagnosticInString } from './locate.ts';
import type { StepTypeDef } from './schema/steps.ts';
import type { Step } from './schema/workflow.ts';
import type { SourceDocument } from './source.ts';
import { didYouMean } from './suggest.ts';
import { hasTemplate, parseTemplate, templateReferences } from './templates/index.ts';

export const META_FIELDS = ['run_id', 'run_number', 'workflow', 'pipeline', 'started_at', 'trigger_type', 'triggered_by'] as const;

/** What a template at some point of a pipeline may read. */
export interface TemplateScope {
  source: SourceDocument;
  /** Steps of the pipeline by name with their position; `before` is the index of the reading step. */
  steps: ReadonlyMap<string, { index: number; step: Step }>;
  before: number;
  inputs: readonly string[];
  secrets: readonly string[];
  env: readonly string[];
  /** The step types of the language the workflow is built in, for their declared outputs. */
  stepTypes: ReadonlyMap<string, StepTypeDef>;
}

function declaredOutputs(
  step: Step,
  stepTypes: ReadonlyMap<string, StepTypeDef>,
): { names: string[]; fieldsOf(name: string): readonly string[] | undefined } | null {
  const def = stepTypes.get(step.type);
  if (!def) return null;
  if (def.dynamicOutputs) return null;
  return { names: Object.keys(def.outputs), fieldsOf: (name) => def.outputs[name]?.fields };
}

/** Checks every template in one string: syntax, functions, and that what it reads exists at that point. */
export function checkTemplateString(value: string, path: readonly PathSegment[], scope: TemplateScope, dependsOn?: Set<string>): Diagnostic[] {
  if (!hasTemplate(value)) return [];
  const at = (offset: number, length: number, code: string, message: string, severity: 'error' | 'warning' = 'error') =>
    diagnosticInString(scope.source, path, value, offset, length, severity, code, message);
  const { template, errors } = parseTemplate(value);
  if (!template) return errors.map((e) => at(e.offset, e.length, 'template_syntax', `template: ${e.message}`));
  const diagnostics = errors.map((e) => at(e.offset, e.length, 'template_syntax', `template: ${e.message}`));
  for (const ref of templateReferences(template)) {
    const [root, name, output, field] = ref.path;
    const where = (code: string, message: string, severity: 'error' | 'warning' = 'error') =>
      diagnostics.push(at(ref.offset, ref.length, code, message, severity));
    if (root === 'steps' && name !== undefined) {
      const target = scope.steps.get(name);
      if (!target) {
        where('unknown_step_reference', `template reads .steps.${name}, but no step is named "${name}"${didYouMean(name, [...scope.steps.keys()])}`);
        continue;
      }
      if (target.index >= scope.before) {
        where(
          'later_step_reference',
          `template reads .steps.${name}, but step "${name}" does not run before this point; templates can only read earlier steps`,
        );
        continue;
      }
      dependsOn?.add(name);
      const outputs = declaredOutputs(target.step, scope.stepTypes);
      if (output === undefined || !outputs) {
        if (output !== undefined && target.step.type === 'step.set') {
          const keys = Object.keys((target.step.config.values as Record<string, unknown>) ?? {});
          if (!keys.includes(output))
            where('unknown_output', `step "${name}" (step.set) sets no value "${output}"${didYouMean(output, keys)}; it sets ${keys.join(', ') || 'nothing'}`);
        }
        continue;
      }
      if (!outputs.names.includes(output)) {
        where(
          'unknown_output',
          `step "${name}" (${target.step.type}) has no output "${output}"${didYouMean(output, outputs.names)}; it declares ${outputs.names.join(', ') || 'no outputs'}`,
        );
        continue;
      }
      const fields = outputs.fieldsOf(output);
      if (field !== undefined && fields && !fields.includes(field)) {
        where('unknown_output', `output "${output}" of step "${name}" has no field "${field}"${didYouMean(field, fields)}; it has ${fields.join(', ')}`);
      }
    } else if (root === 'steps') {
      continue;
    } else if (root === 'Inputs' && name !== undefined && !scope.inputs.includes(name)) {
      where('unknown_input', `template reads .Inputs.${name}, but the pipeline declares no input "${name}"${didYouMean(name, scope.inputs)}`);
    } else if (root === 'Secrets' && name !== undefined && !scope.secrets.includes(name)) {
      where('undeclared_secret', `template reads .Secrets.${name}, but "${name}" is not listed under secrets${didYouMean(name, scope.secrets)}`);
    } else if (root === 'Env' && name !== undefined && !scope.env.includes(name)) {
      where('undeclared_env', `template reads .Env.${name}, which is not set in the pipeline or step env${didYouMean(name, scope.env)}`, 'warning');
    } else if (root === 'meta' && name !== undefined && !(META_FIELDS as readonly string[]).includes(name)) {
      where('unknown_meta', `template reads .meta.${name}; run metadata has ${META_FIELDS.join(', ')}${didYouMean(name, META_FIELDS)}`);
    }
  }
  return diagnostics;
}

/** Calls `visit` for every string inside a value, with its path. */
export function forEachString(value: unknown, path: PathSegment[], visit: (text: string, path: PathSegment[]) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, i) => forEachString(item, [...path, i], visit));
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) forEachString(item, [...path, key], visit);
  }
}
