import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactTransfer } from '../executors/types.ts';
import type { RunnerApi } from './client.ts';

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Artifacts through URLs the API signs for this job: the runner never holds store credentials. */
export function httpArtifacts(api: RunnerApi, jobId: string): ArtifactTransfer {
  return {
    async upload(key, file) {
      const size = (await stat(file)).size;
      const sha256 = await sha256File(file);
      const signed = await api.artifactUploadUrl(jobId, { key, size, sha256 });
      const response = await fetch(signed.url, {
        method: 'PUT',
        headers: { ...signed.headers, 'content-length': String(size) },
        body: Readable.toWeb(createReadStream(file)) as ReadableStream,
        duplex: 'half',
        // Without this, Node 20's fetch keeps every sent chunk until the request ends (undici#4058).
        redirect: 'error',
      } as RequestInit);
      if (!response.ok) throw new Error(`artifact "${key}" upload refused: ${response.status} ${(await response.text()).slice(0, 300)}`);
      await api.commitArtifact(jobId, { key, size, sha256 });
      return { key, size, sha256 };
    },
    async download(key, fromRun, file) {
      const signed = await api.artifactDownloadUrl(jobId, { key, ...(fromRun === undefined ? {} : { fromRun }) });
      const response = await fetch(signed.url, { headers: signed.headers });
      if (!response.ok || !response.body) throw new Error(`artifact "${key}" download failed: ${response.status}`);
      const hash = createHash('sha256');
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(response.body as never), hashing, createWriteStream(file));
      const digest = hash.digest('hex');
      if (digest !== signed.sha256) throw new Error(`artifact "${key}" is corrupt: sha256 ${digest} but ${signed.sha256} was recorded`);
      return { size: (await stat(file)).size, sha256: digest };
    },
  };
}
