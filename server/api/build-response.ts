import { z } from '@hono/zod-openapi';
import type { BuildResult } from '../engine/build.ts';
import type { ChangeSummary } from '../engine/diff.ts';
import { availableTypes } from '../engine/validate.ts';
import { orNull } from './validation.ts';

export const DiagnosticSchema = z
  .object({
    severity: z.enum(['error', 'warning', 'info']),
    code: z.string(),
    message: z.string(),
    path: z.string(),
    line: z.number().int(),
    column: z.number().int(),
    endLine: z.number().int().optional(),
    endColumn: z.number().int().optional(),
    fix: z.object({ replace: z.string() }).optional().describe('A quick fix: the text that replaces the range (a "did you mean")'),
  })
  .openapi('Diagnostic');

const TypeLists = {
  moduleTypes: z.array(z.string()),
  stepTypes: z.array(z.string()),
  triggerTypes: z.array(z.string()),
};

const AvailableSchema = z.object(TypeLists).openapi('AvailableTypes', { description: 'Every type this server can build' });

const PlanStepSchema = z
  .object({
    name: z.string(),
    type: z.string(),
    description: z.string(),
    job: z.number().int().openapi({ description: 'Index of the job the step runs in; a gate ends one job' }),
    timeoutMs: z.number().int().nullable(),
    condition: z.object({ if: z.string().optional(), skip_if: z.string().optional() }).nullable(),
    continueOnError: z.boolean(),
    outputs: z.array(z.string()),
  })
  .openapi('PlanStep');

const PipelineInputSchema = z
  .object({
    type: z.string(),
    required: z.boolean(),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    options: z.array(z.string()).optional(),
    description: z.string().optional(),
  })
  .openapi('PipelineInput');

const PipelinePlanSchema = z
  .object({
    name: z.string(),
    triggers: z.array(
      z.object({
        type: z.enum(['manual', 'http', 'schedule']),
        path: z.string().optional(),
        method: z.string().optional(),
        cron: z.string().optional(),
        timezone: z.string().optional(),
      }),
    ),
    runsOn: z.array(z.string()),
    timeoutMs: z.number().int(),
    onError: z.enum(['stop', 'skip', 'compensate']),
    jobs: z.number().int(),
    steps: z.array(PlanStepSchema),
    compensation: z.array(PlanStepSchema),
    edges: z.array(z.object({ from: z.string(), to: z.string(), kind: z.enum(['sequence', 'data', 'needs', 'route']) })),
    inputs: z.record(z.string(), PipelineInputSchema),
  })
  .openapi('PipelinePlan');

export const PlanSchema = z
  .object({ workflow: z.string(), version: z.string().nullable(), pipelines: z.array(PipelinePlanSchema) })
  .openapi('Plan', { description: 'Pipelines with jobs, steps and edges' });

const AddedRemovedChanged = z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) });

const ChangeSummarySchema = z
  .object({
    pipelines: AddedRemovedChanged,
    steps: z.array(AddedRemovedChanged.extend({ pipeline: z.string() })),
    modules: AddedRemovedChanged,
    triggers: z.object({ added: z.array(z.string()), removed: z.array(z.string()) }),
    lines: z.object({ added: z.number().int(), removed: z.number().int() }),
    patch: z.string().openapi({ description: 'Unified diff of the YAML text' }),
  })
  .openapi('ChangeSummary', { description: 'What would change against the published version (null when nothing is published)' });

/** What a version built to when it was published (`Version.buildResult`). */
export const VersionBuildSchema = z.object({ ...TypeLists, plan: PlanSchema, diagnostics: z.array(DiagnosticSchema) }).openapi('VersionBuild');

const PluginPinSchema = z
  .object({ name: z.string(), version: z.string(), digest: z.string() })
  .openapi('PluginPin', { description: 'An exact plugin version a build used; publishing pins it' });

export const BuildOkSchema = z
  .object({
    status: z.literal('build_ok'),
    ...TypeLists,
    pluginPins: z.array(PluginPinSchema).describe('The plugin versions required plugin steps would run with'),
    plan: PlanSchema,
    diagnostics: z.array(DiagnosticSchema),
    available: AvailableSchema,
    changes: orNull(ChangeSummarySchema).optional(),
  })
  .openapi('BuildOk');

export const BuildFailedSchema = z
  .object({
    status: z.literal('build_failed'),
    error: z.string(),
    diagnostics: z.array(DiagnosticSchema),
    available: AvailableSchema,
  })
  .openapi('BuildFailed');

/** `?live=true`: the editor's checks as it types; a draft that does not build is an answer too, so 200. */
export const LiveCheckQuery = z.object({
  live: z.enum(['true', 'false']).optional().describe('true: answer 200 whether or not the candidate builds (the status field tells)'),
});

export const BuildResultSchema = z.union([BuildOkSchema, BuildFailedSchema]);

export const YamlBodySchema = z
  .object({
    yaml: z
      .string()
      .max(2 * 1024 * 1024)
      .openapi({ description: 'Workflow YAML (at most 1 MiB is accepted by the build)' }),
  })
  .openapi('YamlBody');

export function buildOkBody(build: Extract<BuildResult, { ok: true }>, changes?: ChangeSummary | null) {
  return {
    status: 'build_ok' as const,
    moduleTypes: build.moduleTypes,
    stepTypes: build.stepTypes,
    triggerTypes: build.triggerTypes,
    pluginPins: build.pluginPins,
    plan: build.plan,
    diagnostics: build.diagnostics,
    available: build.available,
    ...(changes === undefined ? {} : { changes }),
  };
}

export function buildFailedBody(build: Extract<BuildResult, { ok: false }>) {
  return { status: 'build_failed' as const, error: build.error, diagnostics: build.diagnostics, available: build.available ?? availableTypes };
}
