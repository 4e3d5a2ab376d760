/** This Flowyard's installed plugins in the registry layout (registry-index.ts), so another Flowyard can install from it. */
import { createHash } from 'node:crypto';
import type { Db } from '../../../db/client.ts';
import { installedArchive, installedPlugins } from './installed.ts';
import { MANIFEST_FILE } from './package.ts';
import { readArchive } from './archive.ts';
import type { RegistryIndex } from './registry-index.ts';

/** The index as JSON text with a strong ETag of its bytes. */
export async function servedIndex(db: Db): Promise<{ body: string; etag: string }> {
  const index: RegistryIndex = {
    plugins: (await installedPlugins(db))
      .filter((record) => record.versions.length > 0)
      .map((record) => ({
        name: record.name,
        description: record.versions[0]!.manifest.description,
        status: record.status,
        stepTypes: record.versions[0]!.manifest.steps.map((step) => step.type),
        deployProviders: (record.versions[0]!.manifest.deploy_providers ?? []).map((provider) => provider.name),
        versions: record.versions.map((v) => ({ version: v.version, digest: v.digest, flowyard: v.manifest.flowyard })),
      })),
  };
  const body = JSON.stringify(index);
  return { body, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
}

/** plugin.yaml as the author wrote it, from the installed archive. */
export async function servedManifest(db: Db, name: string, version: string): Promise<string> {
  const files = await readArchive(await installedArchive(db, name, version));
  return files.get(MANIFEST_FILE)!.toString('utf8');
}
