import { and, desc, eq, inArray, ne } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { artifacts, runs } from '../../db/schema.ts';
import { ApiError, notFound } from './errors.ts';
import { ARTIFACT_PART_BYTES } from '../../runners/protocol/v1.ts';
import {
  ArtifactIntegrityError,
  ArtifactRequestError,
  ArtifactSizeError,
  ArtifactUploadRefusedError,
  artifactStorageKey,
  checkUploadRequest,
  verifyStoredObject,
  type ArtifactStore,
  type PartRequest,
  type UploadedPart,
} from './artifacts/index.ts';

interface ArtifactClaim {
  key: string;
  size: number;
  sha256: string;
}

/** Store errors as clear API answers: what was wrong with which key. */
function asApiError(error: unknown): never {
  if (error instanceof ArtifactUploadRefusedError) throw new ApiError(403, 'upload_refused', error.message);
  if (error instanceof ArtifactSizeError) throw new ApiError(413, 'too_large', error.message);
  if (error instanceof ArtifactRequestError) throw new ApiError(400, 'invalid_artifact', error.message);
  if (error instanceof ArtifactIntegrityError) throw new ApiError(422, error.reason, error.message);
  throw error;
}

export async function signArtifactUpload(store: ArtifactStore, runId: string, claim: ArtifactClaim) {
  try {
    const storageKey = artifactStorageKey(runId, claim.key);
    checkUploadRequest(storageKey, claim);
    return await store.signUpload(storageKey, { size: claim.size, sha256: claim.sha256 });
  } catch (error) {
    asApiError(error);
  }
}

/** Records an uploaded artifact after checking the stored object really has the claimed size and hash. */
export async function commitArtifact(db: Db, store: ArtifactStore, runId: string, claim: ArtifactClaim) {
  let storageKey: string;
  try {
    storageKey = artifactStorageKey(runId, claim.key);
    await verifyStoredObject(store, storageKey, claim);
  } catch (error) {
    asApiError(error);
  }
  await db
    .insert(artifacts)
    .values({ runId, key: claim.key, size: claim.size, sha256: claim.sha256, storageKey })
    .onConflictDoUpdate({ target: [artifacts.runId, artifacts.key], set: { size: claim.size, sha256: claim.sha256, storageKey, createdAt: new Date() } });
}

/** The job an upload belongs to and where its artifact goes. */
interface UploadScope {
  runId: string;
  jobId: string;
}

const storageKeyOf = (scope: UploadScope, key: string) => artifactStorageKey(scope.runId, key);

/** Starts a multipart upload of an artifact of this job's run; the id it answers serves this job and key only. */
export async function startArtifactUpload(store: ArtifactStore, scope: UploadScope, request: { key: string }) {
  try {
    return await store.createMultipart(storageKeyOf(scope, request.key), scope.jobId, ARTIFACT_PART_BYTES);
  } catch (error) {
    asApiError(error);
  }
}

export async function signArtifactPart(store: ArtifactStore, scope: UploadScope, request: { key: string; uploadId: string } & PartRequest) {
  const { key, uploadId, ...part } = request;
  try {
    return await store.signPart(storageKeyOf(scope, key), scope.jobId, uploadId, part);
  } catch (error) {
    asApiError(error);
  }
}

/** Assembles the parts, checks the stored size (and SHA-256 where the store can), and records the artifact. */
export async function completeArtifactUpload(
  db: Db,
  store: ArtifactStore,
  scope: UploadScope,
  request: { key: string; uploadId: string; size: number; sha256: string; parts: UploadedPart[] },
) {
  const storageKey = storageKeyOf(scope, request.key);
  try {
    await store.completeMultipart(storageKey, scope.jobId, request.uploadId, request.parts, request);
  } catch (error) {
    asApiError(error);
  }
  try {
    await commitArtifact(db, store, scope.runId, request);
  } catch (error) {
    // S3 assembles whatever the parts hold; an object that fails the checks is not left under the artifact's key.
    if (error instanceof ApiError && error.status === 422) await store.delete(storageKey).catch(() => undefined);
    throw error;
  }
}

export async function abortArtifactUpload(store: ArtifactStore, scope: UploadScope, request: { key: string; uploadId: string }) {
  try {
    await store.abortMultipart(storageKeyOf(scope, request.key), scope.jobId, request.uploadId);
  } catch (error) {
    asApiError(error);
  }
}

export async function listArtifacts(db: Db, runId: string) {
  return db
    .select({ key: artifacts.key, size: artifacts.size, sha256: artifacts.sha256, createdAt: artifacts.createdAt })
    .from(artifacts)
    .where(eq(artifacts.runId, runId))
    .orderBy(artifacts.key);
}

async function sourceRunId(db: Db, runId: string, fromRun: number | 'latest_success' | undefined): Promise<string> {
  if (fromRun === undefined) return runId;
  const [current] = await db.select({ workflowId: runs.workflowId }).from(runs).where(eq(runs.id, runId));
  if (!current) throw notFound(`run ${runId}`);
  const [source] =
    fromRun === 'latest_success'
      ? await db
          .select({ id: runs.id })
          .from(runs)
          .where(and(eq(runs.workflowId, current.workflowId), inArray(runs.state, ['succeeded', 'succeeded_with_warnings']), ne(runs.id, runId)))
          .orderBy(desc(runs.number))
          .limit(1)
      : await db
          .select({ id: runs.id })
          .from(runs)
          .where(and(eq(runs.workflowId, current.workflowId), eq(runs.number, fromRun)));
  if (!source)
    throw new ApiError(404, 'not_found', fromRun === 'latest_success' ? 'no earlier successful run of this workflow' : `this workflow has no run #${fromRun}`);
  return source.id;
}

/** A short-lived download URL for an artifact of this run or of an earlier run of the same workflow. */
export async function signArtifactDownload(db: Db, store: ArtifactStore, runId: string, request: { key: string; fromRun?: number | 'latest_success' }) {
  const source = await sourceRunId(db, runId, request.fromRun);
  const [row] = await db
    .select()
    .from(artifacts)
    .where(and(eq(artifacts.runId, source), eq(artifacts.key, request.key)));
  if (!row)
    throw new ApiError(
      404,
      'not_found',
      `no artifact "${request.key}"${request.fromRun === undefined ? ' in this run' : ` in run ${String(request.fromRun)}`}`,
    );
  const filename = `${row.key.split('/').at(-1)}.tar`;
  const signed = await store.signDownload(row.storageKey, { filename });
  return { ...signed, size: row.size, sha256: row.sha256 };
}
