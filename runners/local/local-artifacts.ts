import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { artifactStorageKeyFor } from './keys.ts';
import type { ArtifactTransfer } from '../executors/types.ts';

async function sha256Of(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** Artifacts of `flowyard exec`: kept as tar files in a local folder, no server involved. */
export function localArtifacts(dir: string): ArtifactTransfer {
  return {
    async upload(key, file) {
      const target = join(dir, artifactStorageKeyFor(key));
      await mkdir(dirname(target), { recursive: true });
      await copyFile(file, target);
      return { key, size: (await stat(target)).size, sha256: await sha256Of(target) };
    },
    async download(key, fromRun, file) {
      if (fromRun !== undefined) throw new Error('flowyard exec has no earlier runs: from_run is only available on a server');
      const source = join(dir, artifactStorageKeyFor(key));
      await copyFile(source, file).catch(() => {
        throw new Error(`no artifact "${key}" in this run`);
      });
      return { size: (await stat(file)).size, sha256: await sha256Of(file) };
    },
  };
}
