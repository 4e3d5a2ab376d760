/** Picks the artifact backend from `ARTIFACTS_URL`: unset → files under the data folder, `s3://` → S3. */
import { join } from 'node:path';
import { createLocalStore, type LocalStore } from './local.ts';
import { createS3Store, type S3Store } from './s3.ts';

export * from './store.ts';
export { createLocalStore, type DownloadGrant, type LocalBlobAccess, type LocalStore, type PartGrant, type SignatureCheck, type UploadGrant } from './local.ts';
export { createS3Store, parseS3Url, type S3Location, type S3Store } from './s3.ts';

export interface ArtifactStoreOptions {
  /** `ARTIFACTS_URL`; unset or empty for the embedded store. */
  artifactsUrl?: string | undefined;
  /** The server's data folder; the embedded store keeps files in `<dataDir>/artifacts`. */
  dataDir: string;
  /** Base URL runners reach the API at; embedded-store URLs point there. */
  publicUrl: string;
  /** Secret for embedded-store URL signatures and multipart upload ids. */
  signingKey: Uint8Array | string;
  /** The AWS_* settings S3 credentials come from (`Config.s3Env`, server/config.ts). */
  env: Record<string, string | undefined>;
}

/** Narrow on `kind`: only a `'local'` store serves `/api/blobs`. */
export function createArtifactStore(options: ArtifactStoreOptions): LocalStore | S3Store {
  const url = options.artifactsUrl?.trim();
  if (!url) {
    return createLocalStore({ dir: join(options.dataDir, 'artifacts'), publicUrl: options.publicUrl, signingKey: options.signingKey });
  }
  if (url.startsWith('s3://')) return createS3Store(url, options.env, options.signingKey);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new Error(
    `ARTIFACTS_URL ${scheme ? `scheme "${scheme}:" is not supported` : `${JSON.stringify(url)} is not a URL`}: ` +
      'use s3://bucket?endpoint=...&region=...&forcePathStyle=true, or leave it unset to keep artifacts under the data folder',
  );
}
