/**
 * The embedded artifact store: files under a folder, served by the API at `/api/blobs/<storageKey>`
 * through HMAC-signed, short-lived URLs (the signature is the credential). Node-only by design; the
 * API receives it as a dependency. Folders are created 0700 and files 0600: artifacts may hold secrets.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import {
  ArtifactIntegrityError,
  ArtifactKeyError,
  assertStorageKey,
  checkArtifactSize,
  checkUploadRequest,
  resolveTtl,
  storeFailure,
  systemErrorCause,
  ArtifactStoreUnavailableError,
  type ArtifactStore,
  type SignedUrl,
} from './store.ts';

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
  /** The stored bytes as a stream, null when absent. */
  openRead(storageKey: string): Promise<{ stream: ReadableStream<Uint8Array>; size: number } | null>;
}

export interface LocalStore extends ArtifactStore, LocalBlobAccess {
  readonly kind: 'local';
}

const READ_CHUNK_BYTES = 256 * 1024;
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

  const sign = (fields: SignedFields): string =>
    createHmac('sha256', options.signingKey)
      .update(JSON.stringify(['flowyard-blob-v1', fields.method, fields.storageKey, fields.exp, fields.size, fields.sha256, fields.filename]))
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

    verifySignature,

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
        let received = 0;
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          received += chunk.value.byteLength;
          if (received > expected.size) {
            throw new ArtifactIntegrityError('too_large', `the upload is larger than the signed size of ${expected.size} bytes`);
          }
          hash.update(chunk.value);
          await file.write(chunk.value);
        }
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

interface SignedFields {
  method: 'GET' | 'PUT';
  storageKey: string;
  exp: number;
  size: number | null;
  sha256: string | null;
  filename: string | null;
}

const isNotFound = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR';
