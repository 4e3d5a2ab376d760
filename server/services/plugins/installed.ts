/**
 * Installed plugins in libSQL: each version with its manifest, archive, digest and who installed it when.
 * Uninstalling is refused while the active (published) version of a workflow pins the plugin.
 */
import { and, asc, desc, eq, isNotNull, sql } from 'drizzle-orm';
import semver from 'semver';
import type { Db } from '../../../db/client.ts';
import { plugins, pluginStatusChanges, pluginVersions, users, workflows, workflowVersions, type PluginStatus } from '../../../db/schema.ts';
import type { PluginManifest } from '../../engine/plugin-manifest.ts';
import { ApiError, notFound } from '../errors.ts';
import { packageVersion } from '../package-tarball.ts';
import type { PluginPackage } from './package.ts';

export const LOCAL_REGISTRY = 'local';

export interface InstalledVersion {
  version: string;
  digest: string;
  manifest: PluginManifest;
  installedBy: string | null;
  installedByEmail: string | null;
  installedAt: Date;
}

export interface InstalledPluginRecord {
  name: string;
  status: PluginStatus;
  registry: string;
  validationEnvironmentId: string | null;
  createdAt: Date;
  /** Newest first. */
  versions: InstalledVersion[];
}

const bySemverDesc = (a: { version: string }, b: { version: string }) => semver.rcompare(a.version, b.version);

/** Every installed plugin with its versions (without archives), by name. */
export async function installedPlugins(db: Db, name?: string): Promise<InstalledPluginRecord[]> {
  const rows = await db
    .select()
    .from(plugins)
    .where(name ? eq(plugins.name, name) : undefined)
    .orderBy(asc(plugins.name));
  const versions = await db
    .select({
      pluginName: pluginVersions.pluginName,
      version: pluginVersions.version,
      digest: pluginVersions.digest,
      manifest: pluginVersions.manifest,
      installedBy: pluginVersions.installedBy,
      installedByEmail: users.email,
      installedAt: pluginVersions.installedAt,
    })
    .from(pluginVersions)
    .leftJoin(users, eq(users.id, pluginVersions.installedBy))
    .where(name ? eq(pluginVersions.pluginName, name) : undefined);
  return rows.map((row) => ({
    ...row,
    versions: versions
      .filter((v) => v.pluginName === row.name)
      .map(({ pluginName: _, manifest, ...v }) => ({ ...v, manifest: manifest as unknown as PluginManifest }))
      .sort(bySemverDesc),
  }));
}

export async function installedPlugin(db: Db, name: string): Promise<InstalledPluginRecord> {
  const [found] = await installedPlugins(db, name);
  if (!found || found.versions.length === 0) throw notFound(`installed plugin ${name}`);
  return found;
}

/** The archive of one installed version. */
export async function installedArchive(db: Db, name: string, version: string): Promise<Buffer> {
  const [row] = await db
    .select({ archive: pluginVersions.archive })
    .from(pluginVersions)
    .where(and(eq(pluginVersions.pluginName, name), eq(pluginVersions.version, version)));
  if (!row) throw notFound(`installed plugin ${name}@${version}`);
  return Buffer.from(row.archive);
}

/**
 * Installs a checked package as `registry`. With `expectedDigest` (the registry index's), the archive's
 * sha256 must equal it. The plugin must accept this Flowyard's version. Installing the same bytes again is a no-op.
 */
export async function installPackage(
  db: Db,
  pkg: PluginPackage,
  options: { registry: string; userId: string | null; expectedDigest?: string },
): Promise<{ name: string; version: string; created: boolean }> {
  const { name, version, flowyard } = pkg.manifest;
  if (options.expectedDigest && options.expectedDigest !== pkg.digest) {
    throw new ApiError(
      422,
      'digest_mismatch',
      `${name}@${version} from ${options.registry}: the archive's digest ${pkg.digest} is not the ${options.expectedDigest} the registry lists; nothing was installed`,
    );
  }
  const ours = await packageVersion();
  if (!semver.satisfies(ours, flowyard, { includePrerelease: true })) {
    throw new ApiError(422, 'incompatible_plugin', `${name}@${version} needs Flowyard ${flowyard}; this is Flowyard ${ours}`);
  }
  const [existing] = await db
    .select({ digest: pluginVersions.digest })
    .from(pluginVersions)
    .where(and(eq(pluginVersions.pluginName, name), eq(pluginVersions.version, version)));
  if (existing) {
    if (existing.digest === pkg.digest) return { name, version, created: false };
    throw new ApiError(
      409,
      'version_conflict',
      `${name}@${version} is already installed with digest ${existing.digest}; a different archive (${pkg.digest}) cannot replace it: publish a new version`,
    );
  }
  await db.transaction(async (tx) => {
    await tx
      .insert(plugins)
      .values({ name, registry: options.registry })
      .onConflictDoUpdate({ target: plugins.name, set: { registry: options.registry } });
    await tx.insert(pluginVersions).values({
      pluginName: name,
      version,
      digest: pkg.digest,
      manifest: pkg.manifest as unknown as Record<string, unknown>,
      archive: pkg.archive,
      installedBy: options.userId,
    });
  });
  return { name, version, created: true };
}

/** Workflows whose active (published) version pins `name` (at `version`, when given). */
export async function workflowsPinning(db: Db, name: string, version?: string): Promise<Array<{ workflow: string; version: number; pinned: string }>> {
  const rows = await db
    .select({ workflow: workflows.name, number: workflowVersions.number, pins: workflowVersions.pluginPins })
    .from(workflows)
    .innerJoin(workflowVersions, and(eq(workflowVersions.workflowId, workflows.id), eq(workflowVersions.number, workflows.activeVersion)))
    .where(isNotNull(workflows.activeVersion));
  return rows.flatMap((row) =>
    (row.pins ?? [])
      .filter((pin) => pin.name === name && (version === undefined || pin.version === version))
      .map((pin) => ({ workflow: row.workflow, version: row.number, pinned: pin.version })),
  );
}

/** Removes a plugin (or one version of it); 409 naming the workflows while a published version pins it. */
export async function uninstallPlugin(db: Db, name: string, version?: string): Promise<void> {
  const record = await installedPlugin(db, name);
  if (version !== undefined && !record.versions.some((v) => v.version === version)) throw notFound(`installed plugin ${name}@${version}`);
  const pinning = await workflowsPinning(db, name, version);
  if (pinning.length > 0) {
    const names = pinning.map((p) => `${p.workflow} (version ${p.version} pins ${name}@${p.pinned})`).join(', ');
    throw new ApiError(
      409,
      'plugin_in_use',
      `${version ? `${name}@${version}` : name} is used by published workflows: ${names}; publish them without it first`,
      {
        workflows: [...new Set(pinning.map((p) => p.workflow))],
      },
    );
  }
  const lastVersion = version === undefined || record.versions.length === 1;
  if (lastVersion) await db.delete(plugins).where(eq(plugins.name, name));
  else await db.delete(pluginVersions).where(and(eq(pluginVersions.pluginName, name), eq(pluginVersions.version, version)));
}

/** Sets a status by hand (an admin: the registry owner) and records the change. */
export async function setPluginStatus(db: Db, name: string, status: PluginStatus, changedBy: string, reason: string): Promise<void> {
  const record = await installedPlugin(db, name);
  if (record.status === status) return;
  await db.transaction(async (tx) => {
    await tx.update(plugins).set({ status }).where(eq(plugins.name, name));
    await tx.insert(pluginStatusChanges).values({ pluginName: name, fromStatus: record.status, toStatus: status, changedBy, reason });
  });
}

/** Newest first, with the e-mail of the admin who made a change by hand. */
export async function statusChanges(db: Db, name: string, limit = 200) {
  return db
    .select({
      id: pluginStatusChanges.id,
      fromStatus: pluginStatusChanges.fromStatus,
      toStatus: pluginStatusChanges.toStatus,
      changedBy: pluginStatusChanges.changedBy,
      changedByEmail: users.email,
      reason: pluginStatusChanges.reason,
      runIds: pluginStatusChanges.runIds,
      createdAt: pluginStatusChanges.createdAt,
    })
    .from(pluginStatusChanges)
    .leftJoin(users, eq(users.id, pluginStatusChanges.changedBy))
    .where(eq(pluginStatusChanges.pluginName, name))
    .orderBy(desc(pluginStatusChanges.createdAt), desc(sql`${pluginStatusChanges}.rowid`))
    .limit(limit);
}
