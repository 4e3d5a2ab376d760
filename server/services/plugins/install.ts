/** Install, upgrade and upload: what an admin does with plugins; every archive is checked and its digest verified. */
import type { Db } from '../../../db/client.ts';
import { ApiError } from '../errors.ts';
import { fetchRemotePackage, resolveRemote } from './catalog.ts';
import { installedPlugin, installPackage, LOCAL_REGISTRY } from './installed.ts';
import { readPackage } from './package.ts';
import type { RegistrySettings } from './registry-client.ts';

/** Installs the newest version of `name` matching `range` (a version or a semver range) from the registries. */
export async function installFromRegistry(db: Db, settings: RegistrySettings, request: { name: string; version: string; registry?: string }, userId: string) {
  const found = await resolveRemote(settings, request.name, request.version, { registry: request.registry });
  const pkg = await fetchRemotePackage(found.registry, request.name, found.version, found.digest);
  return installPackage(db, pkg, { registry: found.registry, userId, expectedDigest: found.digest });
}

/** Installs the newest version newer than the installed ones, from the registry the plugin came from. */
export async function upgradePlugin(db: Db, settings: RegistrySettings, name: string, range: string, userId: string) {
  const record = await installedPlugin(db, name);
  if (record.registry === LOCAL_REGISTRY) {
    throw new ApiError(409, 'uploaded_plugin', `${name} was uploaded here: upgrade it by uploading the archive of a newer version`);
  }
  if (!settings.urls.includes(record.registry)) {
    throw new ApiError(
      409,
      'no_registry',
      `${name} came from ${record.registry}, which is no longer a configured plugin registry (FLOWYARD_PLUGIN_REGISTRIES)`,
    );
  }
  const found = await resolveRemote(settings, name, range, { registry: record.registry, newerThan: record.versions[0]!.version });
  const pkg = await fetchRemotePackage(found.registry, name, found.version, found.digest);
  return installPackage(db, pkg, { registry: found.registry, userId, expectedDigest: found.digest });
}

/** An archive an admin uploads: installed as registry `local`. */
export async function installUpload(db: Db, archive: Buffer, userId: string) {
  return installPackage(db, await readPackage(archive), { registry: LOCAL_REGISTRY, userId });
}
