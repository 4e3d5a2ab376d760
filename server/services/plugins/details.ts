/** One plugin's page: its manifest, step types, deploy providers, minimal example, versions, status and validation history. */
import { desc, eq } from 'drizzle-orm';
import semver from 'semver';
import type { Db } from '../../../db/client.ts';
import { pluginValidations, type PluginStatus } from '../../../db/schema.ts';
import type { PluginManifest } from '../../engine/plugin-manifest.ts';
import { notFound } from '../errors.ts';
import { fetchRemotePackage, remoteListings } from './catalog.ts';
import { installedArchive, installedPlugins, statusChanges, workflowsPinning } from './installed.ts';
import { readPackage } from './package.ts';
import type { RegistrySettings } from './registry-client.ts';

const VALIDATION_HISTORY = 50;

export interface PluginVersionRow {
  version: string;
  digest: string;
  flowyard: string;
  installed: boolean;
  installedAt: Date | null;
  installedByEmail: string | null;
  /** `local` or the registry offering it. */
  source: string;
}

function stepsOf(manifest: PluginManifest) {
  return manifest.steps.map((step) => ({
    type: step.type,
    description: step.description,
    config: step.config as Record<string, unknown>,
    outputs: Object.entries(step.outputs).map(([name, output]) => ({ name, description: output.description, fields: output.fields ?? [] })),
    runtime:
      step.runtime.kind === 'container'
        ? { kind: step.runtime.kind, image: step.runtime.image }
        : {
            kind: step.runtime.kind,
            command: step.runtime.command ?? null,
            address: step.runtime.address ?? null,
            transport: step.runtime.transport,
            configMessage: step.runtime.config_message ?? null,
          },
  }));
}

function deployProvidersOf(manifest: PluginManifest) {
  return (manifest.deploy_providers ?? []).map((provider) => ({
    name: provider.name,
    description: provider.description,
    settings: provider.settings,
    runtime: {
      kind: provider.runtime.kind,
      command: provider.runtime.command ?? null,
      address: provider.runtime.address ?? null,
      transport: provider.runtime.transport,
    },
  }));
}

export async function pluginDetails(db: Db, settings: RegistrySettings, name: string) {
  const [[installed], { listings }] = await Promise.all([installedPlugins(db, name), remoteListings(settings)]);
  const remote = listings.find((l) => l.entry.name === name);
  const versions: PluginVersionRow[] = (installed?.versions ?? []).map((v) => ({
    version: v.version,
    digest: v.digest,
    flowyard: v.manifest.flowyard,
    installed: true,
    installedAt: v.installedAt,
    installedByEmail: v.installedByEmail,
    source: installed!.registry,
  }));
  for (const v of remote?.entry.versions ?? []) {
    if (!versions.some((known) => known.version === v.version)) {
      versions.push({ ...v, installed: false, installedAt: null, installedByEmail: null, source: remote!.registry });
    }
  }
  versions.sort((a, b) => semver.rcompare(a.version, b.version));

  let manifest: PluginManifest;
  let archive: Buffer;
  if (installed?.versions[0]) {
    manifest = installed.versions[0].manifest;
    archive = await installedArchive(db, name, manifest.version);
  } else if (remote && versions[0]) {
    const pkg = await fetchRemotePackage(remote.registry, name, versions[0].version, versions[0].digest);
    manifest = pkg.manifest;
    archive = pkg.archive;
  } else {
    throw notFound(`plugin ${name}`);
  }
  const { minimalExample } = await readPackage(archive);
  const status: PluginStatus = installed?.status ?? remote!.entry.status;
  const validations = installed
    ? await db
        .select({
          version: pluginValidations.version,
          result: pluginValidations.result,
          runId: pluginValidations.runId,
          detail: pluginValidations.detail,
          createdAt: pluginValidations.createdAt,
        })
        .from(pluginValidations)
        .where(eq(pluginValidations.pluginName, name))
        .orderBy(desc(pluginValidations.createdAt))
        .limit(VALIDATION_HISTORY)
    : [];
  return {
    name,
    description: manifest.description,
    homepage: manifest.homepage ?? null,
    license: manifest.license,
    flowyard: manifest.flowyard,
    status,
    installed: Boolean(installed),
    source: installed ? installed.registry : remote!.registry,
    shownVersion: manifest.version,
    steps: stepsOf(manifest),
    deployProviders: deployProvidersOf(manifest),
    minimalExample,
    versions,
    validations,
    statusChanges: installed ? await statusChanges(db, name) : [],
    usedBy: installed ? await workflowsPinning(db, name) : [],
  };
}
