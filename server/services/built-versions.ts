import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { workflows, workflowVersions } from '../../db/schema.ts';
import { buildWorkflow, type BuildResult } from '../engine/build.ts';
import { pluginSetKey } from '../engine/plugin-language.ts';
import { ApiError, notFound } from './errors.ts';
import { pinnedPlugins } from './plugin-catalog.ts';

type BuiltWorkflow = Extract<BuildResult, { ok: true }>;

/** Published versions already built, by SHA-256, name and plugin pins: the engine is deterministic, so one build serves every run. */
const memo = new Map<string, BuiltWorkflow>();
const MEMO_LIMIT = 64;

function remember(key: string, build: BuiltWorkflow): void {
  memo.delete(key);
  memo.set(key, build);
  if (memo.size > MEMO_LIMIT) memo.delete(memo.keys().next().value!);
}

/**
 * The build of a published version, built once per process (runs, claims, gates and deploy records share it),
 * with exactly the plugin versions it pinned when it was published, not newer installs: a run uses what was previewed.
 */
export async function builtVersion(db: Db, workflowId: string, version: number): Promise<BuiltWorkflow> {
  const [row] = await db
    .select({ yaml: workflowVersions.yaml, sha256: workflowVersions.sha256, name: workflows.name, pluginPins: workflowVersions.pluginPins })
    .from(workflowVersions)
    .innerJoin(workflows, eq(workflows.id, workflowVersions.workflowId))
    .where(and(eq(workflowVersions.workflowId, workflowId), eq(workflowVersions.number, version)));
  if (!row) throw notFound(`version ${version} of workflow ${workflowId}`);
  const key = `${row.sha256}:${row.name}:${pluginSetKey(row.pluginPins)}`;
  const known = memo.get(key);
  if (known) {
    remember(key, known);
    return known;
  }
  const build = buildWorkflow(row.yaml, row.name, { plugins: await pinnedPlugins(db, row.pluginPins) });
  if (!build.ok) throw new ApiError(409, 'version_does_not_build', `version ${version} no longer builds: ${build.error}`);
  remember(key, build);
  return build;
}
