import { join } from 'node:path';
import { importIntoWorkspace, withWorkspaceArchive } from '../docker/archive.ts';
import { withConfig } from './config.ts';

export const artifactPush = withConfig('step.artifact_push', async (runtime, config) => {
  // The build turns upstream's source_path into path and refuses a step with neither.
  if (config.path === undefined) return { state: 'failed', error: 'step.artifact_push: config.path is required' };
  // The tar streams from the engine to the store: hashed and cut into parts on the way, never written to disk here.
  const stored = await withWorkspaceArchive(runtime.docker, runtime.helperImage, runtime.workspaceVolume, config.path, (tar) =>
    runtime.artifacts.upload(config.key, tar, { signal: runtime.signal }),
  );
  runtime.log(`uploaded artifact ${stored.key} (${stored.size} bytes, sha256 ${stored.sha256})`);
  return { state: 'succeeded', outputs: { key: stored.key, size: stored.size, checksum: stored.sha256 } };
});

export const artifactPull = withConfig('step.artifact_pull', async (runtime, { key, from_run: fromRun, dest }) => {
  const tarFile = join(runtime.tempDir, `pull-${runtime.step.index}.tar`);
  const fetched = await runtime.artifacts.download(key, fromRun, tarFile);
  await importIntoWorkspace(runtime.docker, runtime.helperImage, runtime.workspaceVolume, dest, tarFile);
  runtime.log(`downloaded artifact ${key}${fromRun ? ` from run ${fromRun}` : ''} (${fetched.size} bytes) into ${dest}`);
  return { state: 'succeeded', outputs: { key, size: fetched.size, checksum: fetched.sha256, path: dest } };
});
