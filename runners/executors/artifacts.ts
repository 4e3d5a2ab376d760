import { join } from 'node:path';
import { exportFromWorkspace, importIntoWorkspace } from '../docker/archive.ts';
import type { StepExecutor } from './types.ts';

export const artifactPush: StepExecutor = async (runtime) => {
  const tarFile = join(runtime.tempDir, `push-${runtime.step.index}.tar`);
  await exportFromWorkspace(runtime.docker, runtime.helperImage, runtime.workspaceVolume, String(runtime.config.path), tarFile);
  const stored = await runtime.artifacts.upload(String(runtime.config.key), tarFile);
  runtime.log(`uploaded artifact ${stored.key} (${stored.size} bytes, sha256 ${stored.sha256})`);
  return { state: 'succeeded', outputs: { key: stored.key, size: stored.size, checksum: stored.sha256 } };
};

export const artifactPull: StepExecutor = async (runtime) => {
  const key = String(runtime.config.key);
  const tarFile = join(runtime.tempDir, `pull-${runtime.step.index}.tar`);
  const fromRun = runtime.config.from_run as number | 'latest_success' | undefined;
  const fetched = await runtime.artifacts.download(key, fromRun, tarFile);
  const dest = String(runtime.config.dest ?? '.');
  await importIntoWorkspace(runtime.docker, runtime.helperImage, runtime.workspaceVolume, dest, tarFile);
  runtime.log(`downloaded artifact ${key}${fromRun ? ` from run ${fromRun}` : ''} (${fetched.size} bytes) into ${dest}`);
  return { state: 'succeeded', outputs: { key, size: fetched.size, checksum: fetched.sha256, path: dest } };
};
