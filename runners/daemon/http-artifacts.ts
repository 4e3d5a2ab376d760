import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { finished, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ARTIFACT_PART_BYTES, RUNNER_ROUTES, type SignedUrl } from '../protocol/v1.ts';
import type { ArtifactTransfer } from '../executors/types.ts';
import { ApiCallError, sleep, type RunnerApi } from './client.ts';
import { partsOf } from './part-reader.ts';

const PART_ATTEMPTS = 3;
type Signed = (typeof SignedUrl)['_output'];

/** A connection failure on the way to or from the store (not an answer): worth another try. */
class TransferError extends Error {}

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * PUTs `body` to a signed URL with node:http rather than fetch, which copies a byte body before sending it (each
 * part would be held twice). Answers the status, ETag and body text; the body is read so the connection is reused.
 */
function put(signed: Signed, body: Uint8Array, signal: AbortSignal | undefined): Promise<{ status: number; etag: string | undefined; text: string }> {
  const url = new URL(signed.url);
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new Error(`artifact URL has an unsupported scheme: ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(url, {
      method: 'PUT',
      headers: { ...signed.headers, 'content-length': String(body.byteLength) },
      agent: secure ? agents.https : agents.http,
      ...(signal && { signal }),
    });
    request.once('error', (error) => reject(signal?.aborted ? error : new TransferError(`artifact store unreachable: ${error.message}`)));
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', (error) => reject(signal?.aborted ? error : new TransferError(`artifact store answer broke: ${error.message}`)));
      response.once('end', () => {
        const etag = response.headers.etag;
        resolve({ status: response.statusCode ?? 0, etag, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    request.end(body);
  });
}

const isOk = (status: number) => status >= 200 && status < 300;

/**
 * A stream's chunks one by one, as they arrive. A Readable's own async iterator reads with `read()`, which joins
 * whatever is buffered into a new Buffer: one more copy of every byte, and garbage for the collector.
 */
async function* chunksOf(stream: Readable): AsyncGenerator<Buffer> {
  const queued: Buffer[] = [];
  let state: { done: true; error?: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const onData = (chunk: Buffer) => {
    queued.push(chunk);
    if (queued.length >= 16) stream.pause();
    notify();
  };
  stream.on('data', onData);
  const stopWatching = finished(stream, (error) => {
    state = { done: true, ...(error && { error }) };
    notify();
  });
  try {
    for (;;) {
      const chunk = queued.shift();
      if (chunk) {
        if (queued.length === 0 && stream.isPaused()) stream.resume();
        yield chunk;
      } else if (state?.error) throw state.error;
      else if (state) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    stream.off('data', onData);
    stopWatching();
    if (!state) stream.destroy();
  }
}

/**
 * Artifacts through URLs the API signs for this job: the runner never holds store credentials. An upload is read
 * once, as it streams: hashed on the way and cut into parts. One part's worth goes up in one PUT; anything larger
 * goes up as a multipart upload, `parallelParts` parts in flight, and is aborted if anything fails.
 */
export function httpArtifacts(api: RunnerApi, jobId: string): ArtifactTransfer {
  async function uploadOne(key: string, bytes: Buffer, signal: AbortSignal | undefined) {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const signed = await api.artifactUploadUrl(jobId, { key, size: bytes.byteLength, sha256 });
    const { status, text } = await put(signed, bytes, signal);
    if (!isOk(status)) throw new Error(`artifact "${key}" upload refused: ${status} ${text.slice(0, 300)}`);
    await api.commitArtifact(jobId, { key, size: bytes.byteLength, sha256 });
    return { key, size: bytes.byteLength, sha256 };
  }

  async function uploadParts(key: string, reader: ReturnType<typeof partsOf>, parts: AsyncIterable<Buffer>, signal: AbortSignal | undefined) {
    const start = await api.callRoute(RUNNER_ROUTES.startArtifactUpload, { jobId }, { key });
    const { uploadId } = start;
    const sent: Array<{ partNumber: number; etag: string; sha256?: string }> = [];

    async function sendPart(partNumber: number, bytes: Buffer): Promise<void> {
      const sha256 = start.partChecksum ? createHash('sha256').update(bytes).digest('hex') : undefined;
      for (let attempt = 1; ; attempt++) {
        let failure: string;
        try {
          const signed = await api.callRoute(RUNNER_ROUTES.artifactPartUrl, { jobId }, { key, uploadId, partNumber, size: bytes.byteLength, sha256 });
          const { status, etag, text } = await put(signed, bytes, signal);
          if (isOk(status)) {
            sent[partNumber - 1] = { partNumber, etag: etag ?? `"${partNumber}"`, ...(sha256 !== undefined && { sha256 }) };
            return;
          }
          failure = `${status} ${text.slice(0, 300)}`;
          if (status < 500 && status !== 429) throw new Error(failure);
        } catch (error) {
          // Worth another try: the network or an API that is away, not a refusal.
          const transient = !signal?.aborted && (error instanceof TransferError || (error instanceof ApiCallError && error.transient));
          if (!transient) throw error;
          failure = (error as Error).message;
        }
        if (attempt >= PART_ATTEMPTS) throw new Error(`part ${partNumber} failed ${attempt} times: ${failure}`);
        await sleep(250 * attempt, signal);
      }
    }

    const inFlight = new Set<Promise<void>>();
    let failed: { error: unknown } | undefined;
    try {
      let partNumber = 0;
      // The next part is read while `parallelParts` are in flight, and sent once one of them is done.
      for await (const part of parts) {
        while (inFlight.size >= start.parallelParts && !failed) await Promise.race(inFlight);
        if (failed) break;
        const task: Promise<void> = sendPart(++partNumber, part)
          .then(() => reader.release(part))
          .catch((error: unknown) => void (failed ??= { error }))
          .finally(() => inFlight.delete(task));
        inFlight.add(task);
      }
      await Promise.all(inFlight);
      if (failed) throw failed.error;
      const { size, sha256 } = reader.total();
      await api.callRoute(RUNNER_ROUTES.completeArtifactUpload, { jobId }, { key, uploadId, size, sha256, parts: sent });
      return { key, size, sha256 };
    } catch (error) {
      await Promise.allSettled(inFlight);
      await api.callRoute(RUNNER_ROUTES.abortArtifactUpload, { jobId }, { key, uploadId }).catch(() => undefined);
      throw error;
    }
  }

  return {
    async upload(key, source, options = {}) {
      const input = typeof source === 'string' ? createReadStream(source) : source;
      const reader = partsOf(input instanceof Readable ? chunksOf(input) : (input as AsyncIterable<Uint8Array>), ARTIFACT_PART_BYTES);
      const first = await reader.parts.next();
      const second = first.done ? first : await reader.parts.next();
      if (second.done) return uploadOne(key, first.done ? Buffer.alloc(0) : first.value, options.signal);
      async function* all(): AsyncGenerator<Buffer> {
        yield first.value as Buffer;
        yield second.value as Buffer;
        yield* reader.parts;
      }
      return uploadParts(key, reader, all(), options.signal);
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
