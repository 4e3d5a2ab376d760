/**
 * The artifact store: one interface, two backends (`local.ts`, `s3.ts`). Runners never touch storage
 * directly; the API signs short-lived URLs and runners upload and download through them.
 * Runtime-neutral: no `node:` imports here.
 */
import { ApiError } from '../errors.ts';

/** Same shape as `SignedUrl` in `runners/protocol/v1.ts`. */
export interface SignedUrl {
  url: string;
  method: 'GET' | 'PUT';
  /** Headers the runner must send with the request exactly as given (they are part of the signature). */
  headers: Record<string, string>;
  /** Epoch milliseconds after which the URL is refused. */
  expiresAt: number;
}

/** One part of a multipart upload, as the runner asks for its URL: the size and SHA-256 are signed into it. */
export interface PartRequest {
  partNumber: number;
  size: number;
  /** Required when the store answered `partChecksum: true` (S3 then checks each part's bytes). */
  sha256?: string | undefined;
}

/** An uploaded part, as the runner lists it to complete the upload (`etag` from the part's PUT answer). */
export interface UploadedPart {
  partNumber: number;
  etag: string;
  sha256?: string | undefined;
}

export interface MultipartStart {
  /** A sealed token (upload-token.ts) naming the upload, the artifact and the job; opaque to the runner. */
  uploadId: string;
  partSize: number;
  /** Whether each part's URL needs the part's SHA-256 (signed in, so the store checks the bytes of each part). */
  partChecksum: boolean;
  /** How many parts the runner should keep in flight: parallel PUTs help S3, not one disk. */
  parallelParts: number;
  expiresAt: number;
}

/**
 * Multipart uploads: the runner streams an artifact of unknown size in parts of `partSize` bytes (the last one
 * shorter), each through a URL the API signs. `owner` is the job: a token only serves the job and key it was made for.
 */
export interface MultipartUploads {
  createMultipart(storageKey: string, owner: string, partSize: number): Promise<MultipartStart>;
  signPart(storageKey: string, owner: string, uploadId: string, part: PartRequest): Promise<SignedUrl>;
  /** Assembles the parts; throws `ArtifactIntegrityError` when the result lacks the declared size or SHA-256. */
  completeMultipart(storageKey: string, owner: string, uploadId: string, parts: UploadedPart[], expected: { size: number; sha256: string }): Promise<void>;
  /** Drops the parts; an upload that is already gone is not an error. */
  abortMultipart(storageKey: string, owner: string, uploadId: string): Promise<void>;
}

export interface ArtifactStore extends MultipartUploads {
  readonly kind: 'local' | 's3';
  signUpload(storageKey: string, expected: { size: number; sha256: string }, ttlMs?: number): Promise<SignedUrl>;
  signDownload(storageKey: string, options?: { ttlMs?: number; filename?: string }): Promise<SignedUrl>;
  /** Size (and sha256 when the backend knows it) of a stored object, null when absent. */
  stat(storageKey: string): Promise<{ size: number; sha256?: string } | null>;
  delete(storageKey: string): Promise<void>;
  /** Reachability check: bucket exists / folder writable. */
  check(): Promise<void>;
  /** Server-owned objects (`logs/...`, see `logObjectKey`): written and read by the API itself, never signed for runners. */
  putObject(objectKey: string, parts: AsyncIterable<Uint8Array>): Promise<{ size: number }>;
  /** `length` bytes from `offset` of a server-owned object. */
  readRange(objectKey: string, offset: number, length: number): Promise<Uint8Array>;
  deleteObject(objectKey: string): Promise<void>;
}

/** 5 GiB: the largest single PUT S3 accepts. */
export const MAX_ARTIFACT_BYTES = 5 * 1024 ** 3;
export const MAX_ARTIFACT_KEY_LENGTH = 200;
export const DEFAULT_URL_TTL_MS = 15 * 60_000;

/** Base of the errors for an artifact request the API should refuse (400, or 413 for `ArtifactSizeError`). */
export class ArtifactRequestError extends Error {
  override name = 'ArtifactRequestError';
}

/** An artifact key (or run id / storage key) that breaks a naming rule. */
export class ArtifactKeyError extends ArtifactRequestError {
  override name = 'ArtifactKeyError';
}

/** An upload id presented for another job's artifact, forged, or expired: 403. */
export class ArtifactUploadRefusedError extends ArtifactRequestError {
  override name = 'ArtifactUploadRefusedError';
}

/** A declared artifact size that is not a whole number of bytes within the limit. */
export class ArtifactSizeError extends ArtifactRequestError {
  override name = 'ArtifactSizeError';
}

/** Stored bytes that do not match what was signed: missing, too many, too few, or another SHA-256. */
export class ArtifactIntegrityError extends Error {
  override name = 'ArtifactIntegrityError';
  constructor(
    readonly reason: 'missing' | 'too_large' | 'size_mismatch' | 'sha256_mismatch',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The store itself failed (disk, permissions, network, bucket), not the request: 503, or 507 when the
 * disk is full. An `ApiError`, so it answers with its message wherever it surfaces.
 */
export class ArtifactStoreUnavailableError extends ApiError {
  override name = 'ArtifactStoreUnavailableError';
  constructor(message: string, options: { full?: boolean; cause?: unknown } = {}) {
    super(options.full ? 507 : 503, options.full ? 'artifact_store_full' : 'artifact_store_unavailable', message);
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

const ERRNO_CAUSES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device (disk full)',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'the path is a folder, not a file',
  EIO: 'input/output error on the device',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be looked up',
};
const FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** The cause of an operating-system or network error in words, or undefined for other errors. */
export function systemErrorCause(error: unknown): { cause: string; full: boolean } | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z_]+$/.test(code)) return undefined;
  return { cause: ERRNO_CAUSES[code] ?? `${code} (${(error as Error).message})`, full: FULL_CODES.has(code) };
}

/**
 * An operating-system or network error of the store as an `ArtifactStoreUnavailableError` saying what
 * could not be done where and why, e.g. "the artifact store could not write /data/artifacts/tmp: permission
 * denied". Anything else (request and integrity errors, bugs) is returned unchanged.
 */
export function storeFailure(error: unknown, action: string, where: string): unknown {
  if (error instanceof ApiError) return error;
  const system = systemErrorCause(error);
  if (!system) return error;
  return new ArtifactStoreUnavailableError(`the artifact store could not ${action} ${where}: ${system.cause}`, { full: system.full, cause: error });
}

const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const show = (key: string) => JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key);

/** Throws `ArtifactKeyError` naming the key and the rule it breaks. */
export function validateArtifactKey(key: string): void {
  const fail = (rule: string): never => {
    throw new ArtifactKeyError(`invalid artifact key ${show(key)}: ${rule}`);
  };
  if (key.length === 0) fail('it must not be empty');
  if (key.length > MAX_ARTIFACT_KEY_LENGTH) fail(`it is ${key.length} characters; the limit is ${MAX_ARTIFACT_KEY_LENGTH}`);
  if (key.includes('\\')) fail('use "/" to separate folders, not "\\"');
  if (key.startsWith('/')) fail('it must be a relative path, not start with "/"');
  if (/^[A-Za-z]:/.test(key)) fail('it must be a relative path, not start with a drive letter');
  const bad = /[^A-Za-z0-9._/-]/.exec(key);
  if (bad) fail(`it may only contain letters, digits, ".", "_", "-" and "/" (found ${JSON.stringify(bad[0])})`);
  for (const segment of key.split('/')) {
    if (segment === '') fail('it must not contain empty path segments ("//" or a trailing "/")');
    if (segment === '.' || segment === '..') fail(`it must not contain "${segment}" path segments`);
  }
}

/** Where an artifact lives in the store: `runs/<runId>/<key>`, after validating both parts. */
export function artifactStorageKey(runId: string, key: string): string {
  if (!RUN_ID.test(runId)) throw new ArtifactKeyError(`invalid run id ${show(runId)}: expected 1-64 letters, digits, "_" or "-"`);
  validateArtifactKey(key);
  return `runs/${runId}/${key}`;
}

/** Throws `ArtifactKeyError` unless `storageKey` is exactly what `artifactStorageKey` produces. */
export function assertStorageKey(storageKey: string): void {
  const match = /^runs\/([^/]*)\/(.*)$/s.exec(storageKey);
  if (!match) {
    throw new ArtifactKeyError(`invalid storage key ${show(storageKey)}: expected "runs/<runId>/<key>"`);
  }
  artifactStorageKey(match[1] ?? '', match[2] ?? '');
}

/** Where a step's archived log lives: outside `runs/`, so no artifact key can name it; `attempt` keeps concurrent archivers apart. */
export function logObjectKey(runId: string, stepIndex: number, attempt: string): string {
  const key = `logs/${runId}/${stepIndex}.${attempt}.br`;
  assertObjectKey(key);
  return key;
}

/** Throws `ArtifactKeyError` unless `objectKey` is exactly what `logObjectKey` produces. */
export function assertObjectKey(objectKey: string): void {
  const match = /^logs\/([^/]*)\/\d{1,9}\.[a-z0-9]{1,32}\.br$/.exec(objectKey);
  if (!match || !RUN_ID.test(match[1] ?? ''))
    throw new ArtifactKeyError(`invalid log object key ${show(objectKey)}: expected "logs/<runId>/<step>.<attempt>.br"`);
}

/** Throws `ArtifactSizeError` unless `size` is a whole number of bytes within `limit`. */
export function checkArtifactSize(size: number, limit = MAX_ARTIFACT_BYTES): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new ArtifactSizeError(`artifact size must be a whole number of bytes, got ${size}`);
  if (size > limit) throw new ArtifactSizeError(`artifact is ${size} bytes; the limit is ${limit}`);
}

/** How long a multipart upload may take from start to complete (each part's URL lives `DEFAULT_URL_TTL_MS`). */
export const MULTIPART_TTL_MS = 24 * 3600_000;
/** S3's limits: at most 10,000 parts, each at least 5 MiB but the last. */
export const MAX_PARTS = 10_000;
export const MIN_PART_BYTES = 5 * 1024 ** 2;

/** The highest part number an artifact within `MAX_ARTIFACT_BYTES` can need with parts of `partSize`. */
export const maxPartsFor = (partSize: number) => Math.min(MAX_PARTS, Math.ceil(MAX_ARTIFACT_BYTES / partSize));

/** Throws `ArtifactRequestError` naming the problem unless `part` fits an upload of `partSize`-byte parts. */
export function checkPartRequest(part: PartRequest, partSize: number, needsChecksum: boolean): void {
  const limit = maxPartsFor(partSize);
  if (!Number.isSafeInteger(part.partNumber) || part.partNumber < 1 || part.partNumber > limit) {
    throw new ArtifactSizeError(`part number ${part.partNumber} is out of range: parts are numbered 1 to ${limit} (${MAX_ARTIFACT_BYTES} bytes at most)`);
  }
  if (!Number.isSafeInteger(part.size) || part.size < 1 || part.size > partSize) {
    throw new ArtifactRequestError(`part ${part.partNumber} is ${part.size} bytes; a part has 1 to ${partSize} bytes`);
  }
  if (part.sha256 !== undefined) checkSha256Hex(part.sha256);
  else if (needsChecksum) throw new ArtifactRequestError(`part ${part.partNumber} needs its sha256: this store checks every part`);
}

/** Throws unless `parts` are 1..n in order and n parts of `partSize` bytes (the last one shorter) hold `size` bytes. */
export function checkCompletedParts(parts: UploadedPart[], partSize: number, expected: { size: number; sha256: string }): void {
  checkArtifactSize(expected.size);
  checkSha256Hex(expected.sha256);
  parts.forEach((part, i) => {
    if (part.partNumber !== i + 1)
      throw new ArtifactRequestError(`parts must be listed in order from 1 without gaps: found part ${part.partNumber} at position ${i + 1}`);
    if (part.sha256 !== undefined) checkSha256Hex(part.sha256);
  });
  const count = parts.length;
  if (count === 0 || expected.size <= (count - 1) * partSize || expected.size > count * partSize) {
    throw new ArtifactIntegrityError('size_mismatch', `${count} parts of at most ${partSize} bytes cannot hold the declared ${expected.size} bytes`);
  }
}

/** Throws `ArtifactRequestError` unless `sha256` is 64 lowercase hex digits. */
export function checkSha256Hex(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) throw new ArtifactRequestError(`sha256 must be 64 lowercase hex digits, got ${show(sha256)}`);
}

/** The checks every `signUpload` runs before signing anything. */
export function checkUploadRequest(storageKey: string, expected: { size: number; sha256: string }): void {
  assertStorageKey(storageKey);
  checkArtifactSize(expected.size);
  checkSha256Hex(expected.sha256);
}

/** A positive TTL in milliseconds, `DEFAULT_URL_TTL_MS` when not given. */
export function resolveTtl(ttlMs: number | undefined): number {
  const ttl = ttlMs ?? DEFAULT_URL_TTL_MS;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new RangeError(`URL lifetime must be a positive number of milliseconds, got ${ttl}`);
  return ttl;
}

/**
 * For the API's commit step after a runner reports an upload: the stored object must exist with the
 * signed size, and with the signed SHA-256 when the backend reports one.
 */
export async function verifyStoredObject(store: ArtifactStore, storageKey: string, expected: { size: number; sha256: string }): Promise<void> {
  const stored = await store.stat(storageKey);
  if (!stored) throw new ArtifactIntegrityError('missing', `nothing was uploaded to ${storageKey}`);
  if (stored.size !== expected.size) {
    throw new ArtifactIntegrityError('size_mismatch', `${storageKey} is ${stored.size} bytes; ${expected.size} bytes were declared`);
  }
  if (stored.sha256 !== undefined && stored.sha256 !== expected.sha256) {
    throw new ArtifactIntegrityError('sha256_mismatch', `${storageKey} has SHA-256 ${stored.sha256}; ${expected.sha256} was declared`);
  }
}

/** `Content-Disposition: attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266). */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const utf8 = encodeURIComponent(filename).replace(/['()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}
