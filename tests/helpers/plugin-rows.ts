import type { Db } from '../../db/client.ts';
import { plugins, pluginVersions } from '../../db/schema.ts';
import { archiveDigest, packFiles } from '../../server/services/plugins/archive.ts';

/** Stores plugin `name`@1.0.0 (no step types) as the installer would, with `example` as its minimal example. */
export async function installExamplePlugin(db: Db, name: string, example: string): Promise<void> {
  const manifest = { name, version: '1.0.0', description: 'target', license: 'MIT', steps: [] };
  const archive = await packFiles(
    new Map([
      ['plugin.yaml', Buffer.from(JSON.stringify(manifest))],
      ['examples/minimal/config.yaml', Buffer.from(example)],
    ]),
  );
  await db.insert(plugins).values({ name, status: 'experimental' });
  await db.insert(pluginVersions).values({ pluginName: name, version: '1.0.0', digest: archiveDigest(archive), manifest, archive });
}
