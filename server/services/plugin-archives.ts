import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { pluginVersions } from '../../db/schema.ts';
import { notFound } from './errors.ts';

/** The archive of an installed plugin version, for a runner that runs one of its remote steps. */
export async function pluginArchive(db: Db, name: string, version: string): Promise<{ digest: string; archiveBase64: string }> {
  const [row] = await db
    .select({ digest: pluginVersions.digest, archive: pluginVersions.archive })
    .from(pluginVersions)
    .where(and(eq(pluginVersions.pluginName, name), eq(pluginVersions.version, version)));
  if (!row) throw notFound(`installed plugin ${name}@${version}`);
  return { digest: row.digest, archiveBase64: Buffer.from(row.archive).toString('base64') };
}
