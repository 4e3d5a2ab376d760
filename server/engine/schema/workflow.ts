import { z } from 'zod';
import type { PluginStepBinding } from '../plugin-manifest.ts';
import { duration, envMap, identifier, secretName } from './common.ts';
import { moduleTypes } from './modules.ts';
import { stepTypes, type StepTypeDef } from './steps.ts';
import { topLevelTriggerSchema, triggerSchema } from './triggers.ts';

const onError = z.enum(['stop', 'skip', 'compensate']).describe('On a failing step: stop the run, skip to the next step, or run the compensation steps.');

const stepCommon = {
  name: identifier.describe('Step name, unique in its pipeline; templates read its outputs as .steps.<name>.'),
  needs: z.array(identifier).optional().describe('Earlier steps this step depends on.'),
  on_error: z.enum(['stop', 'skip']).optional().describe('Overrides the pipeline on_error for this step.'),
  continue_on_error: z.boolean().optional().describe('A failure of this step does not fail the run.'),
  timeout: duration.optional().describe('Fail the step after this long.'),
  if: z.string().optional().describe('Run the step only when this template renders true.'),
  skip_if: z.string().optional().describe('Skip the step when this template renders true.'),
};

const configIsOptional = (config: z.ZodObject) => Object.values(config.shape).every((field) => (field as z.ZodType).safeParse(undefined).success);

/** `owner/name@range` or `owner/name` (any version). */
const pluginRequirementText = z
  .string()
  .min(1)
  .transform((text) => {
    const at = text.lastIndexOf('@');
    return at > 0 ? { name: text.slice(0, at), version: text.slice(at + 1) || '*' } : { name: text, version: '*' };
  });

/** A plugin this workflow needs; the installed plugins' names are offered as examples (editor completion). */
const pluginRequirement = (installed: readonly string[]) =>
  z.union([
    pluginRequirementText,
    z
      .strictObject({
        name: z
          .string()
          .min(1)
          .describe('Plugin name, owner/name.')
          .meta(installed.length ? { examples: [...installed] } : {}),
        version: z
          .union([z.string().min(1), z.number().transform(String)])
          .default('*')
          .describe('Semver range of the versions this workflow works with, e.g. ^1.2.0; any when omitted.'),
      })
      .describe('A plugin this workflow needs.'),
  ]);

const moduleSchema = z.discriminatedUnion(
  'type',
  moduleTypes.map((def) =>
    z
      .strictObject({
        name: identifier.describe('Module name, referenced by steps.'),
        type: z.literal(def.type).describe(def.description),
        dependsOn: z.array(identifier).optional().describe('Modules this one needs.'),
        config: def.config.prefault({}),
      })
      .describe(`${def.type}: ${def.description}`),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
);

const inputSchema = z.strictObject({
  type: z.enum(['string', 'number', 'boolean', 'choice']).default('string'),
  description: z.string().optional(),
  required: z.boolean().default(false),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  options: z.array(z.string()).optional().describe('Allowed values of a choice input.'),
});

/** A step's schema as the union sees it: each member's own shape is lost in the list of step types, its fields are Step's. */
type StepObject = z.ZodObject<{ [K in keyof Step]-?: z.ZodType<Step[K]> }>;

/**
 * The schemas of the language for a set of step types: the built-in ones, or those plus the step types of
 * installed plugins (plugin-language.ts builds and memoises one per plugin set), whose names `requires` offers.
 */
export function workflowSchemasFor(stepTypeDefs: readonly StepTypeDef[], installedPlugins: readonly string[] = []) {
  const stepSchema = z.discriminatedUnion(
    'type',
    stepTypeDefs.map((def) =>
      z
        .strictObject({
          ...stepCommon,
          type: z.literal(def.type).describe(def.description),
          config: configIsOptional(def.config) ? def.config.prefault({}) : def.config,
        })
        .describe(`${def.type}: ${def.description}`),
    ) as unknown as [StepObject, ...StepObject[]],
  );

  const pipelineSchema = z.strictObject({
    description: z.string().optional(),
    trigger: triggerSchema.optional().describe('What starts this pipeline; manual when omitted.'),
    runs_on: z.array(z.string().min(1)).default([]).describe('Labels a runner must have to take this pipeline.'),
    env: envMap.optional(),
    inputs: z.record(identifier, inputSchema).optional().describe('Inputs asked for when the pipeline is started by hand.'),
    timeout: duration.default('1h').describe('Fail the run after this long.'),
    on_error: onError.default('stop'),
    retry: z
      .strictObject({ on: z.array(z.enum(['runner_lost'])).min(1), max_attempts: z.number().int().min(1).max(10).default(2) })
      .optional()
      .describe('Requeue the job when its runner is lost.'),
    steps: z.array(stepSchema).min(1).describe('Steps run in order on one runner, sharing /workspace.'),
    compensation: z.array(stepSchema).optional().describe('Steps run after a failure when on_error is compensate.'),
    outputs: z.record(identifier, z.string()).optional().describe('Run outputs by name; values are templates.'),
    strict_templates: z.boolean().default(false).describe('Fail on templates that read a missing value.'),
  });

  const workflowSchema = z
    .strictObject({
      $schema: z.string().optional(),
      name: identifier.optional().describe('Workflow name; the name it is saved under (or the file name) when omitted.'),
      version: z.union([z.string(), z.number()]).optional().describe('Your version label, available as {{ .Version }}.'),
      description: z.string().optional(),
      requires: z
        .strictObject({ plugins: z.array(pluginRequirement(installedPlugins)).default([]) })
        .optional()
        .describe('Plugins this workflow needs: {name: owner/name, version: semver range}, or "owner/name@range".'),
      secrets: z.array(secretName).optional().describe('Secrets the workflow reads as {{ .Secrets.NAME }}.'),
      modules: z.array(moduleSchema).optional().describe('Named resources: artifact stores, registries, deploy targets, webhooks.'),
      pipelines: z.record(identifier, pipelineSchema).describe('Pipelines by name.'),
      triggers: z
        .union([
          z.array(topLevelTriggerSchema),
          z
            .strictObject({})
            .transform(() => [])
            .describe('Upstream writes no triggers as {}.'),
        ])
        .optional()
        .describe('Extra triggers, each naming the pipeline it starts.'),
      workflows: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('Upstream: application workflows (HTTP routing, state machines); Flowyard runs pipelines only, so this must be empty.'),
    })
    .describe('A Flowyard workflow.');

  return { stepSchema, moduleSchema, pipelineSchema, workflowSchema };
}

export type WorkflowSchemas = ReturnType<typeof workflowSchemasFor>;

/** The language with the built-in step types only. */
export const builtInSchemas: WorkflowSchemas = workflowSchemasFor(stepTypes);
export const { stepSchema, pipelineSchema, workflowSchema } = builtInSchemas;
export { moduleSchema };

/** A built workflow always has a name: the file's own, or the one it is saved under. */
export type Workflow = Omit<z.output<typeof workflowSchema>, 'name'> & { name: string };
export type Pipeline = z.output<typeof pipelineSchema>;
export type Step = {
  name: string;
  type: string;
  needs?: string[];
  on_error?: 'stop' | 'skip';
  continue_on_error?: boolean;
  timeout?: string;
  if?: string;
  skip_if?: string;
  config: Record<string, unknown>;
  /** Set by the build on a step whose type comes from a plugin: the pinned version that runs it. */
  plugin?: PluginStepBinding;
};
export type WorkflowModule = { name: string; type: string; dependsOn?: string[]; config: Record<string, unknown> };
