import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
    async upload(key, source, options = {}) {
      const target = join(dir, artifactStorageKeyFor(key));
      await mkdir(dirname(target), { recursive: true });
      // Written beside the target while hashed, then renamed: a half-written artifact is never seen under its key.
      const partial = `${target}.${randomUUID()}.partial`;
      const hash = createHash('sha256');
      let size = 0;
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          size += chunk.byteLength;
          done(null, chunk);
        },
      });
      try {
        const input = typeof source === 'string' ? createReadStream(source) : source;
        await pipeline(input, hashing, createWriteStream(partial), ...(options.signal ? [{ signal: options.signal }] : []));
        await rename(partial, target);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
      return { key, size, sha256: hash.digest('hex') };
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
