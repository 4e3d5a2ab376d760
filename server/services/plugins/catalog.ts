/**
 * The plugins a Flowyard knows: the installed ones (registry `local`) and those of the configured remote
 * registries, searched as one. A plugin installed here wins over the registries; among registries the one
 * configured first wins.
 */
import semver from 'semver';
import type { Db } from '../../../db/client.ts';
import type { PluginStatus } from '../../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { packageVersion } from '../package-tarball.ts';
import { installedPlugins, LOCAL_REGISTRY, type InstalledPluginRecord } from './installed.ts';
import { registryArchive, registryIndex, type IndexSource, type RegistrySettings } from './registry-client.ts';
import type { RegistryEntry } from './registry-index.ts';
import { readPackage, type PluginPackage } from './package.ts';

export interface RegistryState {
  url: string;
  ok: boolean;
  source: IndexSource | null;
  error: string | null;
  plugins: number;
}

export interface RemoteListing {
  registry: string;
  entry: RegistryEntry;
}

export interface PluginSummary {
  name: string;
  description: string;
  status: PluginStatus;
  /** `local` when installed here, else the registry URL it would come from. */
  source: string;
  installed: boolean;
  installedVersions: string[];
  /** Versions the registries offer that this Flowyard can run, newest first. */
  availableVersions: string[];
  latestVersion: string;
  stepTypes: string[];
  deployProviders: string[];
}

export interface SearchQuery {
  text?: string;
  stepType?: string;
  deployProvider?: string;
  status?: PluginStatus;
}

/** The indexes of every configured registry; one that fails is reported, not fatal. */
export async function remoteListings(settings: RegistrySettings): Promise<{ listings: RemoteListing[]; registries: RegistryState[] }> {
  const results = await Promise.all(
    settings.urls.map(async (url) => {
      try {
        const { index, source } = await registryIndex(url, settings.ttlMs);
        return {
          state: { url, ok: true, source, error: null, plugins: index.plugins.length },
          entries: index.plugins.map((entry) => ({ registry: url, entry })),
        };
      } catch (error) {
        return { state: { url, ok: false, source: null, error: (error as Error).message, plugins: 0 }, entries: [] };
      }
    }),
  );
  return { listings: results.flatMap((r) => r.entries), registries: results.map((r) => r.state) };
}

async function runnableVersions(entry: RegistryEntry): Promise<RegistryEntry['versions']> {
  const ours = await packageVersion();
  return entry.versions
    .filter((v) => semver.valid(v.version) && semver.satisfies(ours, v.flowyard, { includePrerelease: true }))
    .sort((a, b) => semver.rcompare(a.version, b.version));
}

const matches = (summary: PluginSummary, query: SearchQuery) => {
  const text = query.text?.trim().toLowerCase();
  const searched = `${summary.name} ${summary.description} ${summary.stepTypes.join(' ')} ${summary.deployProviders.join(' ')}`;
  if (text && !searched.toLowerCase().includes(text)) return false;
  if (query.stepType && !summary.stepTypes.includes(query.stepType)) return false;
  if (query.deployProvider && !summary.deployProviders.includes(query.deployProvider)) return false;
  return !query.status || summary.status === query.status;
};

function localSummary(record: InstalledPluginRecord, remote: RegistryEntry['versions']): PluginSummary {
  const newest = record.versions[0]!;
  return {
    name: record.name,
    description: newest.manifest.description,
    status: record.status,
    source: LOCAL_REGISTRY,
    installed: true,
    installedVersions: record.versions.map((v) => v.version),
    availableVersions: remote.map((v) => v.version),
    latestVersion: [newest.version, ...remote.map((v) => v.version)].sort(semver.rcompare)[0]!,
    stepTypes: newest.manifest.steps.map((s) => s.type),
    deployProviders: (newest.manifest.deploy_providers ?? []).map((p) => p.name),
  };
}

/** Installed and remote plugins as one list, filtered by text (name, description, step types, deploy providers), step type, deploy provider and status. */
export async function searchPlugins(
  db: Db,
  settings: RegistrySettings,
  query: SearchQuery,
): Promise<{ plugins: PluginSummary[]; registries: RegistryState[] }> {
  const [installed, { listings, registries }] = await Promise.all([installedPlugins(db), remoteListings(settings)]);
  const byName = new Map<string, PluginSummary>();
  const remoteOf = (name: string) => listings.find((l) => l.entry.name === name);
  for (const record of installed) {
    if (record.versions.length === 0) continue;
    const remote = remoteOf(record.name);
    byName.set(record.name, localSummary(record, remote ? await runnableVersions(remote.entry) : []));
  }
  for (const { registry, entry } of listings) {
    if (byName.has(entry.name)) continue;
    const available = await runnableVersions(entry);
    if (available.length === 0) continue;
    byName.set(entry.name, {
      name: entry.name,
      description: entry.description,
      status: entry.status,
      source: registry,
      installed: false,
      installedVersions: [],
      availableVersions: available.map((v) => v.version),
      latestVersion: available[0]!.version,
      stepTypes: entry.stepTypes ?? [],
      deployProviders: entry.deployProviders ?? [],
    });
  }
  const plugins = [...byName.values()].filter((summary) => matches(summary, query)).sort((a, b) => a.name.localeCompare(b.name));
  return { plugins, registries };
}

/** The newest version of `name` matching `range` in the first configured registry that has one. */
export async function resolveRemote(
  settings: RegistrySettings,
  name: string,
  range: string,
  options: { registry?: string; newerThan?: string } = {},
): Promise<{ registry: string; version: string; digest: string }> {
  if (!semver.validRange(range)) throw new ApiError(400, 'invalid_range', `"${range}" is not a version or a semver range (e.g. 1.2.3, ^1.2, >=1 <2)`);
  const urls = options.registry ? settings.urls.filter((url) => url === options.registry) : settings.urls;
  if (urls.length === 0) {
    throw new ApiError(
      409,
      'no_registry',
      options.registry ? `${options.registry} is not a configured plugin registry` : 'no plugin registry is configured (FLOWYARD_PLUGIN_REGISTRIES)',
    );
  }
  const { listings, registries } = await remoteListings({ ...settings, urls });
  for (const url of urls) {
    const listing = listings.find((l) => l.registry === url && l.entry.name === name);
    if (!listing) continue;
    const candidates = (await runnableVersions(listing.entry)).filter(
      (v) => semver.satisfies(v.version, range, { includePrerelease: true }) && (!options.newerThan || semver.gt(v.version, options.newerThan)),
    );
    if (candidates[0]) return { registry: url, version: candidates[0].version, digest: candidates[0].digest };
  }
  const failed = registries.filter((r) => !r.ok).map((r) => r.error);
  const what = options.newerThan ? `no version of ${name} newer than ${options.newerThan} matches "${range}"` : `no version of ${name} matches "${range}"`;
  throw new ApiError(
    options.newerThan ? 409 : 404,
    options.newerThan ? 'up_to_date' : 'not_found',
    `${what} in ${urls.join(', ')}${failed.length ? ` (${failed.join('; ')})` : ''}`,
  );
}

/** Checked remote packages by digest (their bytes never change), so showing a plugin twice downloads it once. */
const recentPackages = new Map<string, PluginPackage>();
const RECENT_PACKAGES = 16;

/** Fetches a version's archive from a registry and checks it: layout, manifest and that it is what was asked for. */
export async function fetchRemotePackage(registry: string, name: string, version: string, digest: string): Promise<PluginPackage> {
  const known = recentPackages.get(digest);
  if (known && known.manifest.name === name && known.manifest.version === version) return known;
  const pkg = await readPackage(await registryArchive(registry, name, version));
  if (pkg.digest !== digest) {
    throw new ApiError(
      422,
      'digest_mismatch',
      `${name}@${version} from ${registry}: the archive's digest ${pkg.digest} is not the ${digest} the registry lists; nothing was installed`,
    );
  }
  if (pkg.manifest.name !== name || pkg.manifest.version !== version) {
    throw new ApiError(422, 'invalid_plugin', `${registry} listed ${name}@${version} but its plugin.yaml says ${pkg.manifest.name}@${pkg.manifest.version}`);
  }
  recentPackages.set(digest, pkg);
  if (recentPackages.size > RECENT_PACKAGES) recentPackages.delete(recentPackages.keys().next().value!);
  return pkg;
}
