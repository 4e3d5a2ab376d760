import { and, desc, eq, inArray, ne } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { artifacts, runs } from '../../db/schema.ts';
import { ApiError, notFound } from './errors.ts';
import {
  ArtifactIntegrityError,
  ArtifactRequestError,
  ArtifactSizeError,
  artifactStorageKey,
  checkUploadRequest,
  verifyStoredObject,
  type ArtifactStore,
} from './artifacts/index.ts';

interface ArtifactClaim {
  key: string;
  size: number;
  sha256: string;
}

/** Store errors as clear API answers: what was wrong with which key. */
function asApiError(error: unknown): never {
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
