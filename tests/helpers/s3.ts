import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, unknown>;
  status: number;
}
interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>;
  store: { getResourcePath(bucket: string, key: undefined, resource: string): string };
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

export const S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/** A real S3-protocol server (s3rver) on a loopback port, with one bucket. */
export async function startS3(bucket: string) {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const dir = mkdtempSync(join(tmpdir(), 'flowyard-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  const uploadsDir = () => server.store.getResourcePath(bucket, undefined, 'uploads');
  // s3rver 3.7 lacks AbortMultipartUpload (DELETE ?uploadId): added as S3 does it, the upload's parts are dropped.
  server.middleware.unshift(async (ctx, next) => {
    const uploadId = ctx.query.uploadId;
    if (ctx.method !== 'DELETE' || typeof uploadId !== 'string' || ctx.path.split('/')[1] !== bucket) return next();
    if (/^[0-9a-f]{32}$/.test(uploadId)) rmSync(join(uploadsDir(), uploadId), { recursive: true, force: true });
    ctx.status = 204;
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    url: `s3://${bucket}?endpoint=http://127.0.0.1:${port}&region=us-east-1&forcePathStyle=true`,
    dir,
    /** Where s3rver keeps the parts of open multipart uploads, one folder per upload. */
    uploadsDir,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
