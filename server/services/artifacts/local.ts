/**
 * The embedded artifact store: files under a folder, served by the API at `/api/blobs/<storageKey>`
 * through HMAC-signed, short-lived URLs (the signature is the credential). Node-only by design; the
 * API receives it as a dependency. Folders are created 0700 and files 0600: artifacts may hold secrets.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual, type Hash } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import {
  ArtifactIntegrityError,
  ArtifactKeyError,
  assertObjectKey,
  assertStorageKey,
  checkArtifactSize,
  checkUploadRequest,
  resolveTtl,
  storeFailure,
  systemErrorCause,
  ArtifactStoreUnavailableError,
  checkCompletedParts,
  checkPartRequest,
  MULTIPART_TTL_MS,
  type ArtifactStore,
  type SignedUrl,
} from './store.ts';
import { uploadTokenSealer } from './upload-token.ts';

export interface LocalStoreOptions {
  /** Folder holding the blobs (`runs/...`) and in-flight uploads (`tmp/`). */
  dir: string;
  /** Base URL runners reach the API at, e.g. `http://127.0.0.1:8080`. */
  publicUrl: string;
  /** Secret for the URL signatures; keep it stable across restarts so issued URLs stay valid. */
  signingKey: Uint8Array | string;
}

type Query = Record<string, string | undefined>;
export type UploadGrant = { expected: { size: number; sha256: string } };
export type DownloadGrant = { filename?: string };
/** A part of a multipart upload: `size` bytes at `offset` of the upload's temp file. */
export type PartGrant = { upload: string; partNumber: number; offset: number; size: number; sha256?: string };
export type SignatureCheck<Grant> = ({ ok: true } & Grant) | { ok: false; code: 'bad_signature' | 'expired'; reason: string };

/** What the blobs route needs from the local store. */
export interface LocalBlobAccess {
  /** Checks a request's query (`op`, `exp`, `size`, `sha256`, `filename`, `sig`) against method and key. */
  verifySignature(query: Query, method: 'PUT', storageKey: string): SignatureCheck<UploadGrant>;
  verifySignature(query: Query, method: 'GET', storageKey: string): SignatureCheck<DownloadGrant>;
  /**
   * Streams `body` to a temp file, then renames it into place. Throws `ArtifactIntegrityError` (and
   * leaves nothing behind) when the bytes do not have the expected size and SHA-256.
   */
  writeVerified(storageKey: string, body: ReadableStream<Uint8Array>, expected: { size: number; sha256: string }): Promise<void>;
  /** Checks a part URL's query (`op=part`, `upload`, `part`, `offset`, `size`, optional `sha256`, `exp`, `sig`). */
  verifyPartSignature(query: Query, storageKey: string): SignatureCheck<PartGrant>;
  /**
   * Writes one part at its offset of the upload's temp file, checking its signed size (and SHA-256 when signed).
   * A part that arrives in order also feeds the upload's running SHA-256, so completing rarely re-reads anything.
   */
  writePart(grant: PartGrant, body: ReadableStream<Uint8Array>): Promise<void>;
  /** The stored bytes as a stream, null when absent. */
  openRead(storageKey: string): Promise<{ stream: ReadableStream<Uint8Array>; size: number } | null>;
}

export interface LocalStore extends ArtifactStore, LocalBlobAccess {
  readonly kind: 'local';
}

const READ_CHUNK_BYTES = 256 * 1024;
const HASH_CHUNK_BYTES = 1024 * 1024;
const WRITE_BATCH_BYTES = 1024 * 1024;
const LOCAL_PARALLEL_PARTS = 3;
/** Temp files of multipart uploads end in this; the id before it is a UUID. */
const MULTIPART_SUFFIX = '.multipart';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;
const HEX64 = /^[0-9a-f]{64}$/;
const DIGITS = /^\d{1,16}$/;

export function createLocalStore(options: LocalStoreOptions): LocalStore {
  const root = resolve(options.dir);
  const tmpDir = join(root, 'tmp');
  const baseUrl = options.publicUrl.replace(/\/+$/, '');
  /** The store's own failure as a 503/507 naming the path the system refused (or `fallback`). */
  const failure = (error: unknown, action: string, fallback: string) => storeFailure(error, action, (error as { path?: string }).path ?? fallback);
  const privateFolder = async (path: string) => {
    await mkdir(path, { recursive: true, mode: PRIVATE_DIR });
  };
  const tokens = uploadTokenSealer(options.signingKey);
  /** The running SHA-256 of each open multipart upload over its first `cursor` bytes (in memory: lost on restart, then rebuilt). */
  const running = new Map<string, RunningHash>();
  const partFile = (upload: string) => join(tmpDir, `${upload}${MULTIPART_SUFFIX}`);
  /** Uploads nobody completed or aborted (a runner that died) are dropped once their token has expired. */
  const dropExpiredUploads = async () => {
    const now = Date.now();
    for (const [upload, state] of running) if (state.expiresAt < now) running.delete(upload);
    const names = await readdir(tmpDir).catch(() => [] as string[]);
    for (const name of names.filter((entry) => entry.endsWith(MULTIPART_SUFFIX))) {
      const path = join(tmpDir, name);
      const info = await stat(path).catch(() => null);
      if (info && info.mtimeMs < now - MULTIPART_TTL_MS) await rm(path, { force: true });
    }
  };
  /** Opens a multipart temp file, or fails naming the upload as gone (completed, aborted or expired). */
  const openUpload = async (upload: string, flags: string): Promise<FileHandle> =>
    open(partFile(upload), flags).catch((error: unknown) => {
      if (isNotFound(error)) throw new ArtifactIntegrityError('missing', 'this multipart upload is gone (completed, aborted or expired); start a new one');
      throw failure(error, 'write', partFile(upload));
    });

  /** Absolute path of a storage key, checked lexically to stay inside `root` (`runs/...`, never `tmp/`). */
  const pathOf = (storageKey: string): string => {
    assertStorageKey(storageKey);
    const path = resolve(root, ...storageKey.split('/'));
    const rel = relative(root, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw new ArtifactKeyError(`invalid storage key ${JSON.stringify(storageKey)}: it resolves outside the artifact folder`);
    }
    return path;
  };

  /** Absolute path of a server-owned object key (`logs/...`); the key's pattern keeps it inside `root`. */
  const objectPathOf = (objectKey: string): string => {
    assertObjectKey(objectKey);
    return resolve(root, ...objectKey.split('/'));
  };

  const sign = (fields: SignedFields): string =>
    createHmac('sha256', options.signingKey)
      .update(JSON.stringify(['flowyard-blob-v1', fields.method, fields.storageKey, fields.exp, fields.size, fields.sha256, fields.filename]))
      .digest('hex');

  const signPartFields = (key: string, grant: PartGrant, exp: number): string =>
    createHmac('sha256', options.signingKey)
      .update(JSON.stringify(['flowyard-blob-part-v1', key, grant.upload, grant.partNumber, grant.offset, grant.size, grant.sha256 ?? null, exp]))
      .digest('hex');

  const urlFor = (fields: SignedFields): string => {
    const query = new URLSearchParams({ op: fields.method === 'PUT' ? 'put' : 'get', exp: String(fields.exp) });
    if (fields.size !== null) query.set('size', String(fields.size));
    if (fields.sha256 !== null) query.set('sha256', fields.sha256);
    if (fields.filename !== null) query.set('filename', fields.filename);
    query.set('sig', sign(fields));
    return `${baseUrl}/api/blobs/${fields.storageKey}?${query}`;
  };

  function verifySignature(query: Query, method: 'PUT', key: string): SignatureCheck<UploadGrant>;
  function verifySignature(query: Query, method: 'GET', key: string): SignatureCheck<DownloadGrant>;
  function verifySignature(query: Query, method: 'GET' | 'PUT', key: string): SignatureCheck<UploadGrant> | SignatureCheck<DownloadGrant> {
    const bad = (reason: string) => ({ ok: false, code: 'bad_signature', reason }) as const;
    const { op, exp, size, sha256, filename, sig } = query;
    if (op !== (method === 'PUT' ? 'put' : 'get')) return bad(`this URL is not signed for ${method}`);
    if (!exp || !DIGITS.test(exp)) return bad('the URL has no valid "exp" parameter');
    if (!sig || !HEX64.test(sig)) return bad('the URL has no valid "sig" parameter');
    let fields: SignedFields;
    let success: SignatureCheck<UploadGrant> | SignatureCheck<DownloadGrant>;
    if (method === 'PUT') {
      if (!size || !DIGITS.test(size) || !sha256 || !HEX64.test(sha256)) return bad('the URL has no valid "size" and "sha256" parameters');
      const expected = { size: Number(size), sha256 };
      fields = { method, storageKey: key, exp: Number(exp), ...expected, filename: null };
      success = { ok: true, expected };
    } else {
      fields = { method, storageKey: key, exp: Number(exp), size: null, sha256: null, filename: filename ?? null };
      success = filename === undefined ? { ok: true } : { ok: true, filename };
    }
    if (!timingSafeEqual(Buffer.from(sign(fields), 'hex'), Buffer.from(sig, 'hex'))) {
      return bad('the signature does not match this URL; ask the API for a new one');
    }
    if (Date.now() > fields.exp) {
      return { ok: false, code: 'expired', reason: `this URL expired at ${new Date(fields.exp).toISOString()}; ask the API for a new one` };
    }
    return success;
  }

  function verifyPartSignature(query: Query, key: string): SignatureCheck<PartGrant> {
    const bad = (reason: string) => ({ ok: false, code: 'bad_signature', reason }) as const;
    const { op, exp, upload, part, offset, size, sha256, sig } = query;
    if (op !== 'part') return bad('this URL is not signed for a part upload');
    if (!exp || !DIGITS.test(exp) || !sig || !HEX64.test(sig)) return bad('the URL has no valid "exp" and "sig" parameters');
    if (!upload || !UUID.test(upload) || !part || !DIGITS.test(part) || !offset || !DIGITS.test(offset) || !size || !DIGITS.test(size)) {
      return bad('the URL has no valid "upload", "part", "offset" and "size" parameters');
    }
    if (sha256 !== undefined && !HEX64.test(sha256)) return bad('the URL has an invalid "sha256" parameter');
    const grant: PartGrant = { upload, partNumber: Number(part), offset: Number(offset), size: Number(size), ...(sha256 !== undefined && { sha256 }) };
    if (!timingSafeEqual(Buffer.from(signPartFields(key, grant, Number(exp)), 'hex'), Buffer.from(sig, 'hex'))) {
      return bad('the signature does not match this URL; ask the API for a new one');
    }
    if (Date.now() > Number(exp)) {
      return { ok: false, code: 'expired', reason: `this URL expired at ${new Date(Number(exp)).toISOString()}; ask the API for a new one` };
    }
    return { ok: true, ...grant };
  }

  return {
    kind: 'local',

    async signUpload(key, expected, ttlMs) {
      checkUploadRequest(key, expected);
      const exp = Date.now() + resolveTtl(ttlMs);
      const fields: SignedFields = { method: 'PUT', storageKey: key, exp, size: expected.size, sha256: expected.sha256, filename: null };
      return { url: urlFor(fields), method: 'PUT', headers: { 'content-length': String(expected.size) }, expiresAt: exp } satisfies SignedUrl;
    },

    async signDownload(key, downloadOptions = {}) {
      assertStorageKey(key);
      const exp = Date.now() + resolveTtl(downloadOptions.ttlMs);
      const fields: SignedFields = { method: 'GET', storageKey: key, exp, size: null, sha256: null, filename: downloadOptions.filename ?? null };
      return { url: urlFor(fields), method: 'GET', headers: {}, expiresAt: exp } satisfies SignedUrl;
    },

    async stat(key) {
      try {
        const info = await stat(pathOf(key));
        return info.isFile() ? { size: info.size } : null;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw failure(error, 'read', pathOf(key));
      }
    },

    async delete(key) {
      const path = pathOf(key);
      await rm(path, { force: true }).catch((error: unknown) => {
        throw failure(error, 'delete', path);
      });
    },

    async check() {
      const probe = join(tmpDir, `check-${randomUUID()}`);
      try {
        await privateFolder(tmpDir);
        await chmod(root, PRIVATE_DIR);
        await writeFile(probe, 'ok', { mode: PRIVATE_FILE });
        await rm(probe);
      } catch (error) {
        const system = systemErrorCause(error);
        throw new ArtifactStoreUnavailableError(`the artifact folder ${root} is not writable: ${system?.cause ?? (error as Error).message}`, {
          full: system?.full,
          cause: error,
        });
      }
    },

    async putObject(key, parts) {
      const target = objectPathOf(key);
      const temp = join(tmpDir, `object-${randomUUID()}`);
      let size = 0;
      try {
        await privateFolder(tmpDir);
        await privateFolder(dirname(target));
        const file = await open(temp, 'w', PRIVATE_FILE);
        try {
          const writer = coalescingWriter(file, 0);
          for await (const part of parts) {
            await writer.write(part);
            size += part.byteLength;
          }
          await writer.flush();
        } finally {
          await file.close();
        }
        await rename(temp, target);
        return { size };
      } catch (error) {
        await rm(temp, { force: true });
        throw failure(error, 'write', target);
      }
    },

    async readRange(key, offset, length) {
      const path = objectPathOf(key);
      const file = await open(path, 'r').catch((error: unknown) => {
        throw failure(error, 'read', path);
      });
      try {
        const out = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await file.read(out, done, length - done, offset + done);
          if (bytesRead === 0) throw new Error(`${path} ends before byte ${offset + length}`);
          done += bytesRead;
        }
        return out;
      } finally {
        await file.close();
      }
    },

    async deleteObject(key) {
      const path = objectPathOf(key);
      await rm(path, { force: true }).catch((error: unknown) => {
        throw failure(error, 'delete', path);
      });
    },

    verifySignature,
    verifyPartSignature,

    async createMultipart(key, owner, partSize) {
      pathOf(key);
      await dropExpiredUploads();
      const upload = randomUUID();
      const expiresAt = Date.now() + MULTIPART_TTL_MS;
      try {
        await privateFolder(tmpDir);
        await (await open(partFile(upload), 'wx', PRIVATE_FILE)).close();
      } catch (error) {
        throw failure(error, 'write', partFile(upload));
      }
      running.set(upload, { hash: createHash('sha256'), cursor: 0, busy: false, written: new Map(), expiresAt });
      const uploadId = await tokens.seal({ storageKey: key, owner, uploadId: upload, partSize, expiresAt });
      // A few parts in flight hide each request's latency; parts that overtake one another are hashed from the page cache.
      return { uploadId, partSize, partChecksum: false, parallelParts: LOCAL_PARALLEL_PARTS, expiresAt };
    },

    async signPart(key, owner, uploadId, part) {
      const claims = await tokens.open(uploadId, { storageKey: key, owner });
      checkPartRequest(part, claims.partSize, false);
      const exp = Math.min(Date.now() + resolveTtl(undefined), claims.expiresAt);
      const grant: PartGrant = {
        upload: claims.uploadId,
        partNumber: part.partNumber,
        offset: (part.partNumber - 1) * claims.partSize,
        size: part.size,
        ...(part.sha256 !== undefined && { sha256: part.sha256 }),
      };
      const query = new URLSearchParams({
        op: 'part',
        upload: grant.upload,
        part: String(grant.partNumber),
        offset: String(grant.offset),
        size: String(grant.size),
      });
      if (grant.sha256 !== undefined) query.set('sha256', grant.sha256);
      query.set('exp', String(exp));
      query.set('sig', signPartFields(key, grant, exp));
      return {
        url: `${baseUrl}/api/blobs/${key}?${query}`,
        method: 'PUT',
        headers: { 'content-length': String(part.size) },
        expiresAt: exp,
      } satisfies SignedUrl;
    },

    async writePart(grant, body) {
      const reader = body.getReader();
      const file = await openUpload(grant.upload, 'r+').catch(async (error: unknown) => {
        await reader.cancel().catch(() => {});
        throw error;
      });
      const state = running.get(grant.upload);
      const inOrder = state !== undefined && !state.busy && state.cursor === grant.offset;
      if (inOrder) state.busy = true;
      // A copy, so a part that fails half-way leaves the running hash as it was.
      const whole = inOrder ? state.hash.copy() : undefined;
      const own = grant.sha256 === undefined ? undefined : createHash('sha256');
      const writer = coalescingWriter(file, grant.offset);
      let released = false;
      try {
        let received = 0;
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          if (received + chunk.value.byteLength > grant.size) {
            throw new ArtifactIntegrityError('too_large', `part ${grant.partNumber} is larger than its signed size of ${grant.size} bytes`);
          }
          whole?.update(chunk.value);
          own?.update(chunk.value);
          await writer.write(chunk.value);
          received += chunk.value.byteLength;
        }
        await writer.flush();
        if (received !== grant.size) {
          throw new ArtifactIntegrityError('size_mismatch', `part ${grant.partNumber} was ${received} bytes; its signed size is ${grant.size} bytes`);
        }
        const digest = own?.digest('hex');
        if (digest !== undefined && digest !== grant.sha256) {
          throw new ArtifactIntegrityError('sha256_mismatch', `part ${grant.partNumber} has SHA-256 ${digest}; the signed SHA-256 is ${grant.sha256}`);
        }
        if (inOrder && whole) {
          state.hash = whole;
          state.cursor += received;
        } else {
          state?.written.set(grant.offset, received);
        }
        if (inOrder) {
          state.busy = false;
          released = true;
        }
        if (state) await catchUp(state, file);
      } catch (error) {
        await reader.cancel().catch(() => {});
        throw failure(error, 'write', partFile(grant.upload));
      } finally {
        if (inOrder && !released) state.busy = false;
        await file.close().catch(() => {});
      }
    },

    async completeMultipart(key, owner, uploadId, parts, expected) {
      const claims = await tokens.open(uploadId, { storageKey: key, owner });
      checkCompletedParts(parts, claims.partSize, expected);
      const target = pathOf(key);
      const path = partFile(claims.uploadId);
      const file = await openUpload(claims.uploadId, 'r+');
      try {
        const { size } = await file.stat();
        if (size !== expected.size) throw new ArtifactIntegrityError('size_mismatch', `the parts hold ${size} bytes; ${expected.size} bytes were declared`);
        const state = running.get(claims.uploadId);
        const usable = state !== undefined && !state.busy && state.cursor <= size;
        const hash = usable ? state.hash : createHash('sha256');
        // Whatever did not arrive in order (or before a restart) is hashed now, from the page cache.
        const buffer = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
        for (let position = usable ? state.cursor : 0; position < size;) {
          const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.byteLength, size - position), position);
          if (bytesRead === 0) break;
          hash.update(buffer.subarray(0, bytesRead));
          position += bytesRead;
        }
        const sha256 = hash.digest('hex');
        if (sha256 !== expected.sha256) {
          throw new ArtifactIntegrityError('sha256_mismatch', `the parts have SHA-256 ${sha256}; ${expected.sha256} was declared`);
        }
        // Once, for the whole file: parts were written without syncing.
        await file.datasync();
        await file.close();
        await privateFolder(dirname(target));
        await rename(path, target);
      } catch (error) {
        // The parts stay until the runner aborts (or they expire), as a refused S3 complete leaves them.
        await file.close().catch(() => {});
        throw failure(error, 'write', target);
      } finally {
        running.delete(claims.uploadId);
      }
    },

    async abortMultipart(key, owner, uploadId) {
      const claims = await tokens.open(uploadId, { storageKey: key, owner });
      running.delete(claims.uploadId);
      await rm(partFile(claims.uploadId), { force: true }).catch((error: unknown) => {
        throw failure(error, 'delete', partFile(claims.uploadId));
      });
    },

    async writeVerified(key, body, expected) {
      const target = pathOf(key);
      checkArtifactSize(expected.size);
      const tmp = join(tmpDir, `${randomUUID()}.part`);
      const reader = body.getReader();
      const file = await privateFolder(tmpDir)
        .then(() => open(tmp, 'wx', PRIVATE_FILE))
        .catch(async (error: unknown) => {
          await reader.cancel().catch(() => {});
          throw failure(error, 'write', tmp);
        });
      try {
        const hash = createHash('sha256');
        const writer = coalescingWriter(file, 0);
        let received = 0;
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          received += chunk.value.byteLength;
          if (received > expected.size) {
            throw new ArtifactIntegrityError('too_large', `the upload is larger than the signed size of ${expected.size} bytes`);
          }
          hash.update(chunk.value);
          await writer.write(chunk.value);
        }
        await writer.flush();
        if (received !== expected.size) {
          throw new ArtifactIntegrityError('size_mismatch', `the upload was ${received} bytes; the signed size is ${expected.size} bytes`);
        }
        const sha256 = hash.digest('hex');
        if (sha256 !== expected.sha256) {
          throw new ArtifactIntegrityError('sha256_mismatch', `the upload has SHA-256 ${sha256}; the signed SHA-256 is ${expected.sha256}`);
        }
        await file.datasync();
        await file.close();
        await privateFolder(dirname(target));
        await rename(tmp, target);
      } catch (error) {
        await reader.cancel().catch(() => {});
        await file.close().catch(() => {});
        await rm(tmp, { force: true });
        throw failure(error, 'write', target);
      }
    },

    async openRead(key) {
      const path = pathOf(key);
      const handle = await open(path, 'r').catch((error: unknown) => {
        if (isNotFound(error)) return null;
        throw failure(error, 'read', path);
      });
      if (!handle) return null;
      const info = await handle.stat();
      if (!info.isFile()) {
        await handle.close();
        return null;
      }
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const buffer = new Uint8Array(READ_CHUNK_BYTES);
            const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null);
            if (bytesRead === 0) {
              await handle.close();
              controller.close();
            } else {
              controller.enqueue(buffer.subarray(0, bytesRead));
            }
          } catch (error) {
            await handle.close().catch(() => {});
            controller.error(error);
          }
        },
        async cancel() {
          await handle.close();
        },
      });
      return { stream, size: info.size };
    },
  };
}

/**
 * Writes a stream's chunks to `file` from `position` on, a batch of `WRITE_BATCH_BYTES` at a time: a body arrives
 * in 64 KiB chunks, and a write each costs a thread-pool round trip, which a loaded machine makes slow.
 */
function coalescingWriter(file: FileHandle, position: number) {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const [buffers, bytes] = [pending, pendingBytes];
    [pending, pendingBytes] = [[], 0];
    const { bytesWritten } = await file.writev(buffers, position);
    if (bytesWritten !== bytes) throw new Error(`wrote ${bytesWritten} of ${bytes} bytes`);
    position += bytes;
  };
  return {
    async write(chunk: Uint8Array) {
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
    },
    flush,
  };
}

/** The SHA-256 of an open multipart upload's first `cursor` bytes, and the parts written beyond it (offset → size). */
interface RunningHash {
  hash: Hash;
  cursor: number;
  busy: boolean;
  written: Map<number, number>;
  expiresAt: number;
}

/** Hashes the parts that were written ahead of the cursor once the cursor reaches them (from the page cache). */
async function catchUp(state: RunningHash, file: FileHandle): Promise<void> {
  if (state.busy) return;
  state.busy = true;
  try {
    const buffer = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
    for (let size = state.written.get(state.cursor); size !== undefined; size = state.written.get(state.cursor)) {
      const hash = state.hash.copy();
      for (let done = 0; done < size;) {
        const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.byteLength, size - done), state.cursor + done);
        if (bytesRead === 0) return;
        hash.update(buffer.subarray(0, bytesRead));
        done += bytesRead;
      }
      state.written.delete(state.cursor);
      state.hash = hash;
      state.cursor += size;
    }
  } finally {
    state.busy = false;
  }
}

interface SignedFields {
  method: 'GET' | 'PUT';
  storageKey: string;
  exp: number;
  size: number | null;
  sha256: string | null;
  filename: string | null;
}

const isNotFound = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR';
