/**
 * S3-compatible artifact store. Only the API holds the credentials; runners get presigned URLs.
 * `ARTIFACTS_URL=s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true&prefix=ci`
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  ArtifactIntegrityError,
  ArtifactRequestError,
  ArtifactStoreUnavailableError,
  assertObjectKey,
  assertStorageKey,
  checkCompletedParts,
  checkPartRequest,
  MULTIPART_TTL_MS,
  checkUploadRequest,
  contentDisposition,
  resolveTtl,
  storeFailure,
  systemErrorCause,
  type ArtifactStore,
} from './store.ts';
import { uploadTokenSealer } from './upload-token.ts';

export interface S3Store extends ArtifactStore {
  readonly kind: 's3';
}

export interface S3Location {
  bucket: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Folder inside the bucket, without slashes at either end; '' for the bucket root. */
  prefix: string;
  /** Sign `x-amz-checksum-sha256` into upload URLs so S3 verifies the bytes (`checksum=false` turns it off). */
  checksum: boolean;
}

type Env = Record<string, string | undefined>;

const PARAMS = ['endpoint', 'region', 'forcePathStyle', 'prefix', 'checksum'];
/** SigV4 presigned URLs live at most a week. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/** Parts in flight per upload: enough to hide each PUT's latency, few enough to keep the runner's buffers small. */
const PARALLEL_PARTS = 4;
/** Part size of the server's own uploads (archived logs). */
const SERVER_PART_BYTES = 8 * 1024 ** 2;

/** Parses `s3://bucket?endpoint=...&region=...&forcePathStyle=true&prefix=...&checksum=false`. */
export function parseS3Url(url: string, env: Env = {}): S3Location {
  const fail = (problem: string): never => {
    throw new Error(`invalid ARTIFACTS_URL ${JSON.stringify(url)}: ${problem}`);
  };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail('expected s3://bucket?endpoint=...&region=...');
  }
  if (parsed.protocol !== 's3:') fail('the scheme must be s3://');
  const bucket = parsed.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) fail('the bucket name (right after s3://) must be 3-63 lowercase letters, digits, "." or "-"');
  if (parsed.pathname !== '' && parsed.pathname !== '/') fail('put a folder inside the bucket in ?prefix=..., not in the path');
  if (parsed.username || parsed.password) fail('credentials go in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, not in the URL');
  const unknown = [...parsed.searchParams.keys()].filter((name) => !PARAMS.includes(name));
  if (unknown.length > 0) fail(`unknown parameter ${unknown.join(', ')}; supported: ${PARAMS.join(', ')}`);

  const flag = (name: string, fallback: boolean): boolean => {
    const value = parsed.searchParams.get(name);
    if (value === null) return fallback;
    if (value !== 'true' && value !== 'false') fail(`${name} must be true or false`);
    return value === 'true';
  };
  const endpoint = parsed.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) fail('endpoint must be an http:// or https:// URL');
  const prefix = (parsed.searchParams.get('prefix') ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..') || !/^[A-Za-z0-9._/-]*$/.test(prefix)) {
    fail('prefix may only contain letters, digits, ".", "_", "-" and "/", without "." or ".." segments');
  }
  return {
    bucket,
    ...(endpoint !== undefined && { endpoint }),
    region: parsed.searchParams.get('region') ?? env.AWS_REGION ?? 'us-east-1',
    forcePathStyle: flag('forcePathStyle', false),
    prefix,
    checksum: flag('checksum', true),
  };
}

/**
 * `env` supplies AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and optional AWS_SESSION_TOKEN, AWS_REGION). `signingKey`
 * seals multipart upload ids; keep it stable across restarts and replicas (a random one serves a single process).
 */
export function createS3Store(url: string, env: Env, signingKey: Uint8Array | string = crypto.getRandomValues(new Uint8Array(32))): S3Store {
  const location = parseS3Url(url, env);
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('the S3 artifact store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment of the API');
  }
  const client = new S3Client({
    region: location.region,
    ...(location.endpoint !== undefined && { endpoint: location.endpoint }),
    forcePathStyle: location.forcePathStyle,
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) },
    // The SDK's default CRC32 checksums are refused by older S3-compatible servers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const { bucket } = location;
  const where = `S3 bucket "${bucket}"${location.endpoint ? ` at ${location.endpoint}` : ''}`;
  const objectKey = (storageKey: string) => {
    assertStorageKey(storageKey);
    return location.prefix ? `${location.prefix}/${storageKey}` : storageKey;
  };
  const serverObjectKey = (key: string) => {
    assertObjectKey(key);
    return location.prefix ? `${location.prefix}/${key}` : key;
  };
  const tokens = uploadTokenSealer(signingKey);
  const presignSeconds = (ttlMs: number | undefined) => Math.min(Math.ceil(resolveTtl(ttlMs) / 1000), MAX_PRESIGN_SECONDS);
  /** Why the bucket cannot be used, in words; undefined when it answers. */
  const bucketProblem = async (): Promise<{ problem: string; error: unknown } | undefined> => {
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
      return undefined;
    } catch (error) {
      const status = httpStatusOf(error);
      const problem =
        status === 404
          ? 'does not exist'
          : status === 403 || status === 401
            ? 'refused access: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY'
            : `is unreachable: ${systemErrorCause(error)?.cause ?? ((error as Error).message || (error as Error).name)}`;
      return { problem, error };
    }
  };
  /** An S3 failure as a 503 naming the bucket and the cause; request errors pass unchanged. */
  const failure = (error: unknown, action: string, storageKey: string): unknown => {
    const status = httpStatusOf(error);
    const name = (error as Error).name;
    if (name === 'NoSuchBucket')
      return new ArtifactStoreUnavailableError(`the artifact store could not ${action} ${storageKey}: ${where} does not exist`, { cause: error });
    if (status === 401 || status === 403) {
      return new ArtifactStoreUnavailableError(
        `the artifact store could not ${action} ${storageKey}: ${where} refused access (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`,
        { cause: error },
      );
    }
    if (status !== undefined && status >= 500)
      return new ArtifactStoreUnavailableError(`the artifact store could not ${action} ${storageKey}: ${where} answered ${status} ${name}`, { cause: error });
    return storeFailure(error, action, `${storageKey} in ${where}`);
  };

  /** A presigned PUT whose length (and digest, when given) are signed as headers, so S3 refuses any other body. */
  const signSizedPut = async (
    sign: (options: Parameters<typeof getSignedUrl>[2]) => Promise<string>,
    size: number,
    checksum: string | undefined,
    expiresIn: number,
  ) => {
    const headers: Record<string, string> = { 'content-length': String(size) };
    if (checksum !== undefined) headers['x-amz-checksum-sha256'] = checksum;
    const url = await sign({ expiresIn, signableHeaders: new Set(Object.keys(headers)), unhoistableHeaders: new Set(['x-amz-checksum-sha256']) });
    return { url, method: 'PUT' as const, headers, expiresAt: Date.now() + expiresIn * 1000 };
  };

  return {
    kind: 's3',

    async signUpload(storageKey, expected, ttlMs) {
      checkUploadRequest(storageKey, expected);
      const expiresIn = presignSeconds(ttlMs);
      const checksum = location.checksum ? hexToBase64(expected.sha256) : undefined;
      const command = new PutObjectCommand({
        Bucket: bucket,
        Key: objectKey(storageKey),
        ContentLength: expected.size,
        ...(checksum !== undefined && { ChecksumSHA256: checksum }),
      });
      return signSizedPut((options) => getSignedUrl(client, command, options), expected.size, checksum, expiresIn);
    },

    async createMultipart(storageKey, owner, partSize) {
      const key = objectKey(storageKey);
      const started = await client
        .send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...(location.checksum && { ChecksumAlgorithm: 'SHA256' }) }))
        .catch((error: unknown) => {
          throw failure(error, 'start an upload of', storageKey);
        });
      if (!started.UploadId) throw new ArtifactStoreUnavailableError(`${where} answered no upload id for ${storageKey}`);
      const expiresAt = Date.now() + MULTIPART_TTL_MS;
      const uploadId = await tokens.seal({ storageKey, owner, uploadId: started.UploadId, partSize, expiresAt });
      return { uploadId, partSize, partChecksum: location.checksum, parallelParts: PARALLEL_PARTS, expiresAt };
    },

    async signPart(storageKey, owner, uploadId, part) {
      const claims = await tokens.open(uploadId, { storageKey, owner });
      checkPartRequest(part, claims.partSize, location.checksum);
      const expiresIn = Math.min(presignSeconds(undefined), Math.max(1, Math.floor((claims.expiresAt - Date.now()) / 1000)));
      const checksum = location.checksum && part.sha256 !== undefined ? hexToBase64(part.sha256) : undefined;
      const command = new UploadPartCommand({
        Bucket: bucket,
        Key: objectKey(storageKey),
        UploadId: claims.uploadId,
        PartNumber: part.partNumber,
        ContentLength: part.size,
        ...(checksum !== undefined && { ChecksumSHA256: checksum }),
      });
      return signSizedPut((options) => getSignedUrl(client, command, options), part.size, checksum, expiresIn);
    },

    async completeMultipart(storageKey, owner, uploadId, parts, expected) {
      const claims = await tokens.open(uploadId, { storageKey, owner });
      checkCompletedParts(parts, claims.partSize, expected);
      if (location.checksum && parts.some((part) => part.sha256 === undefined)) {
        throw new ArtifactRequestError('every part needs its sha256: this store checks every part');
      }
      const command = new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: objectKey(storageKey),
        UploadId: claims.uploadId,
        MultipartUpload: {
          Parts: parts.map((part) => ({
            PartNumber: part.partNumber,
            ETag: part.etag,
            ...(location.checksum && part.sha256 !== undefined && { ChecksumSHA256: hexToBase64(part.sha256) }),
          })),
        },
      });
      await client.send(command).catch((error: unknown) => {
        const status = httpStatusOf(error);
        // InvalidPart, InvalidPartOrder, EntityTooSmall, NoSuchUpload: the parts are not what the list says.
        if (status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 403) {
          throw new ArtifactIntegrityError('missing', `${where} refused to assemble ${storageKey}: ${(error as Error).name} ${(error as Error).message}`);
        }
        throw failure(error, 'assemble', storageKey);
      });
    },

    async abortMultipart(storageKey, owner, uploadId) {
      const claims = await tokens.open(uploadId, { storageKey, owner });
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: objectKey(storageKey), UploadId: claims.uploadId })).catch((error: unknown) => {
        if (httpStatusOf(error) === 404) return;
        throw failure(error, 'abort the upload of', storageKey);
      });
    },

    async signDownload(storageKey, options = {}) {
      const expiresIn = presignSeconds(options.ttlMs);
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: objectKey(storageKey),
        ...(options.filename !== undefined && { ResponseContentDisposition: contentDisposition(options.filename) }),
      });
      const url = await getSignedUrl(client, command, { expiresIn });
      return { url, method: 'GET', headers: {}, expiresAt: Date.now() + expiresIn * 1000 };
    },

    async stat(storageKey) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(storageKey), ChecksumMode: 'ENABLED' }));
        const size = head.ContentLength ?? 0;
        // A composite (multipart) checksum looks like "<base64>-<parts>" and is not the file's digest.
        const sha256 = head.ChecksumSHA256 && !head.ChecksumSHA256.includes('-') ? base64ToHex(head.ChecksumSHA256) : undefined;
        return sha256 === undefined ? { size } : { size, sha256 };
      } catch (error) {
        if (httpStatusOf(error) !== 404) throw failure(error, 'read', storageKey);
      }
      // HEAD answers a bare 404 for a missing bucket too: tell the two apart.
      const missing = await bucketProblem();
      if (missing)
        throw new ArtifactStoreUnavailableError(`the artifact store could not read ${storageKey}: ${where} ${missing.problem}`, { cause: missing.error });
      return null;
    },

    async delete(storageKey) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(storageKey) })).catch((error: unknown) => {
        throw failure(error, 'delete', storageKey);
      });
    },

    async putObject(key, parts) {
      const Key = serverObjectKey(key);
      // Parts of at least 5 MiB (S3's minimum) go up as a multipart upload; an object smaller than one part is one PUT.
      let buffered: Uint8Array[] = [];
      let bufferedBytes = 0;
      let size = 0;
      let uploadId: string | undefined;
      const uploaded: Array<{ PartNumber: number; ETag: string }> = [];
      const take = () => {
        const body = Buffer.concat(buffered);
        [buffered, bufferedBytes] = [[], 0];
        return body;
      };
      const sendPart = async () => {
        uploadId ??= (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }))).UploadId!;
        const PartNumber = uploaded.length + 1;
        const { ETag } = await client.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId: uploadId, PartNumber, Body: take() }));
        uploaded.push({ PartNumber, ETag: ETag! });
      };
      try {
        for await (const part of parts) {
          buffered.push(part);
          bufferedBytes += part.byteLength;
          size += part.byteLength;
          if (bufferedBytes >= SERVER_PART_BYTES) await sendPart();
        }
        if (uploadId === undefined) {
          await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: take() }));
          return { size };
        }
        if (bufferedBytes > 0) await sendPart();
        await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: uploaded } }));
        return { size };
      } catch (error) {
        if (uploadId !== undefined) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId: uploadId })).catch(() => {});
        throw failure(error, 'write', key);
      }
    },

    async readRange(key, offset, length) {
      try {
        const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: serverObjectKey(key), Range: `bytes=${offset}-${offset + length - 1}` }));
        const bytes = await answer.Body!.transformToByteArray();
        if (bytes.byteLength !== length) throw new Error(`${key}: asked for ${length} bytes at ${offset}, got ${bytes.byteLength}`);
        return bytes;
      } catch (error) {
        throw failure(error, 'read', key);
      }
    },

    async deleteObject(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: serverObjectKey(key) })).catch((error: unknown) => {
        throw failure(error, 'delete', key);
      });
    },

    async check() {
      const missing = await bucketProblem();
      if (missing) throw new ArtifactStoreUnavailableError(`${where} ${missing.problem}`, { cause: missing.error });
    },
  };
}

const httpStatusOf = (error: unknown): number | undefined => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

function hexToBase64(hex: string): string {
  const bytes = hex.match(/../g)?.map((pair) => String.fromCharCode(parseInt(pair, 16))) ?? [];
  return btoa(bytes.join(''));
}

function base64ToHex(base64: string): string {
  return [...atob(base64)].map((char) => char.charCodeAt(0).toString(16).padStart(2, '0')).join('');
}
