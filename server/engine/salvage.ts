import type { z } from 'zod';
import { identifier } from './schema/common.ts';
import { topLevelTriggerSchema, triggerSchema } from './schema/triggers.ts';
import { builtInSchemas, type Pipeline, type Step, type Workflow, type WorkflowModule, type WorkflowSchemas } from './schema/workflow.ts';

/**
 * The parts of a workflow that are valid on their own, when the whole is not, so that the checks that do not
 * depend on the broken parts still run and every independent problem is reported in one build.
 * A step or module that fails its schema is kept as a placeholder (its name, type and raw config), so that
 * references to it and positions after it stay right; checks of its own config skip it.
 */
export interface Salvaged {
  workflow: Workflow;
  placeholders: WeakSet<object>;
}

type Raw = Record<string, unknown>;
const isRecord = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

function parsed<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}

/** A field's value, its default when the value is invalid, or nothing. */
function fieldOrDefault(schema: z.ZodType, value: unknown): unknown {
  return parsed(schema, value) ?? parsed(schema, undefined);
}

export function salvageWorkflow(raw: unknown, name: string, schemas: WorkflowSchemas = builtInSchemas): Salvaged | null {
  if (!isRecord(raw)) return null;
  const { stepSchema, pipelineSchema, moduleSchema } = schemas;
  const placeholders = new WeakSet<object>();
  const placeholder = <T extends object>(value: T): T => {
    placeholders.add(value);
    return value;
  };

  const salvageStep = (value: unknown, index: number): Step => {
    const step = parsed(stepSchema, value) as Step | undefined;
    if (step) return step;
    const rawStep = isRecord(value) ? value : {};
    return placeholder({
      // A nameless step still holds its position; '#' cannot start a real step name, so nothing refers to it.
      name: parsed(identifier, rawStep.name) ?? `#${index}`,
      type: typeof rawStep.type === 'string' ? rawStep.type : '',
      config: isRecord(rawStep.config) ? rawStep.config : {},
      ...(typeof rawStep.if === 'string' ? { if: rawStep.if } : {}),
      ...(typeof rawStep.skip_if === 'string' ? { skip_if: rawStep.skip_if } : {}),
      ...(Array.isArray(rawStep.needs) ? { needs: rawStep.needs.filter((need): need is string => typeof need === 'string') } : {}),
    });
  };

  const salvagePipeline = (value: unknown): Pipeline | null => {
    if (!isRecord(value)) return null;
    const pipeline: Raw = {};
    for (const [key, schema] of Object.entries(pipelineSchema.shape)) {
      if (key === 'steps' || key === 'compensation') continue;
      pipeline[key] = fieldOrDefault(schema as z.ZodType, value[key]);
    }
    if (pipeline.inputs === undefined && isRecord(value.inputs)) {
      pipeline.inputs = Object.fromEntries(Object.keys(value.inputs).map((input) => [input, { type: 'string', required: false }]));
    }
    if (pipeline.env === undefined && isRecord(value.env)) pipeline.env = Object.fromEntries(Object.keys(value.env).map((key) => [key, '']));
    pipeline.trigger = parsed(triggerSchema, value.trigger);
    pipeline.steps = Array.isArray(value.steps) ? value.steps.map(salvageStep) : [];
    if (Array.isArray(value.compensation)) pipeline.compensation = value.compensation.map(salvageStep);
    return pipeline as Pipeline;
  };

  const modules = (Array.isArray(raw.modules) ? raw.modules : []).flatMap((value): WorkflowModule[] => {
    const module = parsed(moduleSchema, value) as WorkflowModule | undefined;
    if (module) return [module];
    const moduleName = isRecord(value) ? parsed(identifier, value.name) : undefined;
    return moduleName ? [placeholder({ name: moduleName, type: isRecord(value) && typeof value.type === 'string' ? value.type : '', config: {} })] : [];
  });
  const pipelines = Object.fromEntries(
    Object.entries(isRecord(raw.pipelines) ? raw.pipelines : {}).flatMap(([pipelineName, value]) => {
      const pipeline = salvagePipeline(value);
      return pipeline ? [[pipelineName, pipeline]] : [];
    }),
  );
  return {
    workflow: {
      name,
      modules: modules as Workflow['modules'],
      // Names under secrets count as declared even when one is misspelt, so that reads of them are not reported twice.
      secrets: Array.isArray(raw.secrets) ? raw.secrets.filter((secret): secret is string => typeof secret === 'string') : [],
      pipelines,
      ...(isRecord(raw.workflows) ? { workflows: raw.workflows } : {}),
      triggers: (Array.isArray(raw.triggers) ? raw.triggers : []).flatMap((value) => {
        const trigger = parsed(topLevelTriggerSchema, value);
        return trigger ? [trigger] : [];
      }),
    },
    placeholders,
  };
}
