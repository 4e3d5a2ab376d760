import { z } from '@hono/zod-openapi';
import type { BuildResult } from '../engine/build.ts';
import type { ChangeSummary } from '../engine/diff.ts';
import { availableTypes } from '../engine/validate.ts';

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

const AvailableSchema = z.object(TypeLists).openapi({ description: 'Every type this server can build' });

export const BuildOkSchema = z
  .object({
    status: z.literal('build_ok'),
    ...TypeLists,
    plan: z.record(z.string(), z.unknown()).openapi({ description: 'Pipelines with jobs, steps and edges' }),
    diagnostics: z.array(DiagnosticSchema),
    available: AvailableSchema,
    changes: z.record(z.string(), z.unknown()).nullable().optional().openapi({ description: 'What would change against the published version' }),
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
  .object({ yaml: z.string().max(2 * 1024 * 1024).openapi({ description: 'Workflow YAML (at most 1 MiB is accepted by the build)' }) })
  .openapi('YamlBody');

export function buildOkBody(build: Extract<BuildResult, { ok: true }>, changes?: ChangeSummary | null) {
  return {
    status: 'build_ok' as const,
    moduleTypes: build.moduleTypes,
    stepTypes: build.stepTypes,
    triggerTypes: build.triggerTypes,
    plan: build.plan as unknown as Record<string, unknown>,
    diagnostics: build.diagnostics,
    available: availableTypes,
    ...(changes === undefined ? {} : { changes: changes as unknown as Record<string, unknown> | null }),
  };
}

export function buildFailedBody(build: Extract<BuildResult, { ok: false }>) {
  return { status: 'build_failed' as const, error: build.error, diagnostics: build.diagnostics, available: availableTypes };
}
