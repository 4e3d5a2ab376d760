/**
 * The installed plugins as the engine sees them (InstalledPlugin: name, version, digest, manifest), read from
 * plugin_versions for every build a user sees: drafts and try-activate, publish, the change summary, the editor
 * schema; and the exact pinned versions for rebuilding a published version.
 */
import { and, eq, or } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { pluginVersions } from '../../db/schema.ts';
import { languageFor, type Language } from '../engine/plugin-language.ts';
import { pluginManifestSchema, type InstalledPlugin, type PluginManifest, type PluginPin } from '../engine/plugin-manifest.ts';
import { newestPlugins } from '../engine/plugin-requires.ts';

interface Row {
  name: string;
  version: string;
  digest: string;
  manifest: Record<string, unknown>;
}

/** Parsed manifests by digest: a version's manifest never changes, and live checks read the catalog as the user types. */
const parsedManifests = new Map<string, PluginManifest | null>();

function toInstalled(row: Row): InstalledPlugin | null {
  const key = `${row.name}@${row.version}#${row.digest}`;
  if (!parsedManifests.has(key)) {
    const parsed = pluginManifestSchema.safeParse(row.manifest);
    // The installer checks manifests; a row that no longer parses (a manifest contract change) provides no step types.
    parsedManifests.set(key, parsed.success && parsed.data.name === row.name && parsed.data.version === row.version ? parsed.data : null);
  }
  const manifest = parsedManifests.get(key);
  return manifest ? { name: row.name, version: row.version, digest: row.digest, manifest } : null;
}

const columns = { name: pluginVersions.pluginName, version: pluginVersions.version, digest: pluginVersions.digest, manifest: pluginVersions.manifest };

/** Every installed version of every plugin (a build picks one version of each by its requires.plugins). */
export async function installedPlugins(db: Db): Promise<InstalledPlugin[]> {
  const rows = await db.select(columns).from(pluginVersions);
  return rows.flatMap((row) => toInstalled(row) ?? []);
}

/** Exactly the pinned versions, when still installed with the same digest; a missing one is left out (the build says so). */
export async function pinnedPlugins(db: Db, pins: readonly PluginPin[]): Promise<InstalledPlugin[]> {
  if (pins.length === 0) return [];
  const rows = await db
    .select(columns)
    .from(pluginVersions)
    .where(or(...pins.map((pin) => and(eq(pluginVersions.pluginName, pin.name), eq(pluginVersions.version, pin.version)))));
  return rows.flatMap((row) =>
    pins.some((pin) => pin.name === row.name && pin.version === row.version && pin.digest === row.digest) ? (toInstalled(row) ?? []) : [],
  );
}

/** The language the editor offers: built-in step types plus the newest installed version of each plugin. */
export async function editorLanguage(db: Db): Promise<Language> {
  return languageFor(newestPlugins(await installedPlugins(db)));
}
