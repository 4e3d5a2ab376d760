/**
 * Step types of installed plugins as the engine's step type definitions: the config schema of each comes from
 * the JSON Schema in its plugin.yaml, made strict (unknown keys are errors at every object level), so plugin
 * steps get the same checks as built-in ones. Pure: no I/O.
 */
import { z } from 'zod';
import type { InstalledPlugin, PluginStepBinding, PluginStepDef } from './plugin-manifest.ts';
import type { StepTypeDef } from './schema/steps.ts';

/** A step type provided by a plugin, with the plugin version that provides it. */
export interface PluginStepTypeDef extends StepTypeDef {
  plugin: PluginStepBinding;
}

type JsonSchema = Record<string, unknown>;
const isSchema = (value: unknown): value is JsonSchema => typeof value === 'object' && value !== null && !Array.isArray(value);

const SCHEMA_MAPS = ['properties', '$defs', 'definitions', 'patternProperties', 'dependentSchemas'];
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const SCHEMA_VALUES = ['items', 'not', 'if', 'then', 'else', 'contains', 'propertyNames'];

/**
 * A copy of a JSON Schema in which every object schema refuses unknown keys: `additionalProperties` absent or
 * true becomes false. A schema-valued `additionalProperties` (a map such as `headers: {string: string}`) stays:
 * its keys are data, not fields.
 */
export function strictJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictJsonSchema);
  if (!isSchema(schema)) return schema;
  const out: JsonSchema = { ...schema };
  for (const key of SCHEMA_MAPS) {
    if (isSchema(out[key])) out[key] = Object.fromEntries(Object.entries(out[key]).map(([name, value]) => [name, strictJsonSchema(value)]));
  }
  for (const key of SCHEMA_LISTS) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map(strictJsonSchema);
  for (const key of SCHEMA_VALUES) if (isSchema(out[key])) out[key] = strictJsonSchema(out[key]);
  const isObject = out.type === 'object' || (Array.isArray(out.type) && out.type.includes('object')) || isSchema(out.properties);
  if (isSchema(out.additionalProperties)) out.additionalProperties = strictJsonSchema(out.additionalProperties);
  else if (isObject) out.additionalProperties = false;
  return out;
}

/** A config schema that refuses every config, for a plugin schema the engine cannot use; the reason is the error. */
function unusableConfig(plugin: InstalledPlugin, what: string, reason: string): z.ZodObject {
  const message = `the ${what} in plugin ${plugin.name}@${plugin.version} cannot be used: ${reason}`;
  return z.looseObject({}).check((ctx) => {
    ctx.issues.push({ code: 'custom', message, input: ctx.value });
  }) as unknown as z.ZodObject;
}

/** A plugin's JSON Schema (`what` names it in errors) as a strict zod object schema. */
export function strictObjectSchema(plugin: InstalledPlugin, what: string, jsonSchema: unknown): z.ZodObject {
  let schema: z.ZodType;
  try {
    schema = z.fromJSONSchema(strictJsonSchema(jsonSchema) as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (error) {
    return unusableConfig(plugin, what, (error as Error).message);
  }
  const def = (schema as unknown as { _zod: { def: { type: string } } })._zod.def;
  if (def.type !== 'object') return unusableConfig(plugin, what, 'its top level must be a plain object schema (type, properties, required)');
  return schema as z.ZodObject;
}

const configSchemaOf = (plugin: InstalledPlugin, step: PluginStepDef) => strictObjectSchema(plugin, `config schema of ${step.type}`, step.config);

/** The step type definitions a plugin version provides. */
export function pluginStepTypes(plugin: InstalledPlugin): PluginStepTypeDef[] {
  return plugin.manifest.steps.map((step) => ({
    type: step.type,
    description: `${step.description} (plugin ${plugin.name} ${plugin.version})`,
    config: configSchemaOf(plugin, step),
    outputs: Object.fromEntries(
      Object.entries(step.outputs).map(([name, output]) => [name, { description: output.description, ...(output.fields ? { fields: output.fields } : {}) }]),
    ),
    plugin: { name: plugin.name, version: plugin.version, digest: plugin.digest, runtime: step.runtime },
  }));
}

export const isPluginStepType = (def: StepTypeDef | undefined): def is PluginStepTypeDef => def !== undefined && 'plugin' in def;
