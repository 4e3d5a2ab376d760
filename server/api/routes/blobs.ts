/**
 * `/api/blobs/<storageKey>`: the embedded artifact store's upload and download endpoint. The signed
 * query string is the credential, so this path is public (no session or API token).
 *   PUT → 201 `{ storageKey, size, sha256 }` once the body matched the signed size and SHA-256.
 *   PUT ?op=part → 200 with an ETag: one part of a multipart upload, written at its offset of the upload's temp file.
 *   GET → the bytes, `application/octet-stream`, as an attachment when a filename was signed.
 * A failing store (permissions, full disk) answers 503 / 507 with the cause, never a bare 500.
 */
import { Hono, type Context, type Env } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { LocalBlobAccess } from '../../services/artifacts/local.ts';
import {
  ArtifactIntegrityError,
  ArtifactRequestError,
  ArtifactStoreUnavailableError,
  assertStorageKey,
  contentDisposition,
} from '../../services/artifacts/store.ts';

const INTEGRITY_STATUS = { missing: 400, too_large: 413, size_mismatch: 400, sha256_mismatch: 422 } as const;

const fail = (c: Context, status: ContentfulStatusCode, code: string, message: string) => c.json({ error: { code, message } }, status);

const emptyBody = () => new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });

/** The failures of a write the store can name, as answers; anything else is a bug and rethrown. */
function writeFailure(c: Context, error: unknown): Response {
  if (error instanceof ArtifactIntegrityError) return fail(c, INTEGRITY_STATUS[error.reason], error.reason, error.message);
  if (error instanceof ArtifactStoreUnavailableError) return fail(c, error.status, error.code, error.message);
  throw error;
}

/** One part of a multipart upload: 200 with the part's ETag once its signed size (and SHA-256) checked out. */
async function putPart(c: Context, local: LocalBlobAccess, storageKey: string): Promise<Response> {
  const check = local.verifyPartSignature(c.req.query(), storageKey);
  if (!check.ok) return fail(c, 403, check.code, check.reason);
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) !== check.size) {
    return fail(c, Number(declared) > check.size ? 413 : 400, 'size_mismatch', `Content-Length is ${declared}; the signed part size is ${check.size} bytes`);
  }
  try {
    await local.writePart(check, c.req.raw.body ?? emptyBody());
  } catch (error) {
    return writeFailure(c, error);
  }
  return c.json({ storageKey, partNumber: check.partNumber, size: check.size }, 200, { etag: `"${check.partNumber}"` });
}

/** `getLocal` returns the embedded store, or undefined when artifacts live in S3 (then blob URLs are 404). */
export function blobRoutesFor<E extends Env>(getLocal: (c: Context<E>) => LocalBlobAccess | undefined): Hono<E> {
  /** The store and the checked storage key, or the error response to send. */
  const target = (c: Context<E>): Response | { local: LocalBlobAccess; storageKey: string } => {
    const local = getLocal(c);
    if (!local) return fail(c, 404, 'not_found', 'this server keeps artifacts in S3; blob URLs are not served here');
    const storageKey = c.req.param('storageKey') ?? '';
    try {
      assertStorageKey(storageKey);
    } catch (error) {
      if (error instanceof ArtifactRequestError) return fail(c, 400, 'invalid_key', error.message);
      throw error;
    }
    return { local, storageKey };
  };

  return new Hono<E>()
    .put('/:storageKey{.+}', async (c) => {
      const found = target(c);
      if (found instanceof Response) return found;
      const { local, storageKey } = found;
      if (c.req.query('op') === 'part') return putPart(c, local, storageKey);
      const check = local.verifySignature(c.req.query(), 'PUT', storageKey);
      if (!check.ok) return fail(c, 403, check.code, check.reason);
      const { expected } = check;
      const declared = c.req.header('content-length');
      if (declared !== undefined && Number(declared) !== expected.size) {
        const status = Number(declared) > expected.size ? 413 : 400;
        return fail(c, status, status === 413 ? 'too_large' : 'size_mismatch', `Content-Length is ${declared}; the signed size is ${expected.size} bytes`);
      }
      try {
        await local.writeVerified(storageKey, c.req.raw.body ?? emptyBody(), expected);
      } catch (error) {
        return writeFailure(c, error);
      }
      return c.json({ storageKey, size: expected.size, sha256: expected.sha256 }, 201);
    })
    .get('/:storageKey{.+}', async (c) => {
      const found = target(c);
      if (found instanceof Response) return found;
      const { local, storageKey } = found;
      const check = local.verifySignature(c.req.query(), 'GET', storageKey);
      if (!check.ok) return fail(c, 403, check.code, check.reason);
      let blob: Awaited<ReturnType<LocalBlobAccess['openRead']>>;
      try {
        blob = await local.openRead(storageKey);
      } catch (error) {
        if (error instanceof ArtifactStoreUnavailableError) return fail(c, error.status, error.code, error.message);
        throw error;
      }
      if (!blob) return fail(c, 404, 'not_found', `no artifact is stored at ${storageKey}`);
      const headers: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'content-length': String(blob.size),
        'cache-control': 'private, no-store',
      };
      if (check.filename !== undefined) headers['content-disposition'] = contentDisposition(check.filename);
      return c.body(blob.stream, 200, headers);
    });
}
