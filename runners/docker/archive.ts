import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import { MANAGED_LABEL, ensureImage, statusCodeOf } from './engine.ts';
import { WORKSPACE_PATH } from './workspace.ts';

/**
 * Files inside a workspace volume are reached through a container that is created but never started:
 * the engine's archive API reads and writes its mounts without running anything.
 */
async function withIdleContainer<T>(
  docker: Dockerode,
  image: string,
  volume: string,
  use: (c: Dockerode.Container) => Promise<T>,
  cmd: string[] = ['true'],
): Promise<T> {
  await ensureImage(docker, image, 'if_not_present');
  const container = await docker.createContainer({
    Image: image,
    Cmd: cmd,
    Labels: { [MANAGED_LABEL]: 'true', 'flowyard.role': 'archive' },
    NetworkDisabled: true,
    HostConfig: { Binds: [`${volume}:${WORKSPACE_PATH}`], NetworkMode: 'none' },
  });
  try {
    return await use(container);
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Resolves a step path (absolute, or relative to /workspace) and refuses anything outside /workspace. */
export function workspacePath(path: string): string {
  const absolute = path.startsWith('/') ? path : `${WORKSPACE_PATH}/${path}`;
  const parts: string[] = [];
  for (const part of absolute.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  const normalised = `/${parts.join('/')}`;
  if (normalised !== WORKSPACE_PATH && !normalised.startsWith(`${WORKSPACE_PATH}/`)) {
    throw new Error(`path "${path}" is outside ${WORKSPACE_PATH}`);
  }
  return normalised;
}

/** Writes a tar of `path` (file or folder) from the workspace volume to `tarFile`. */
export async function exportFromWorkspace(docker: Dockerode, image: string, volume: string, path: string, tarFile: string): Promise<void> {
  // `<dir>/.` asks the engine for the folder's contents rooted at the folder itself.
  const source = /\/\.$/.test(path) ? `${workspacePath(path.slice(0, -2) || '/')}/.` : workspacePath(path);
  await withIdleContainer(docker, image, volume, async (container) => {
    let archive: NodeJS.ReadableStream;
    try {
      archive = await container.getArchive({ path: source });
    } catch (error) {
      if (statusCodeOf(error) === 404) throw new Error(`nothing at ${source} to upload`);
      throw error;
    }
    await pipeline(archive, createWriteStream(tarFile));
  });
}

/** Unpacks a tar made by `exportFromWorkspace` into `dest` inside the workspace volume, creating `dest`. */
export async function importIntoWorkspace(docker: Dockerode, image: string, volume: string, dest: string, tarFile: string): Promise<void> {
  const target = workspacePath(dest);
  // The archive API only extracts into an existing folder, and making one takes a (very short) run.
  await withIdleContainer(
    docker,
    image,
    volume,
    async (container) => {
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      if (StatusCode !== 0) throw new Error(`could not create ${target} in the workspace (exit ${StatusCode})`);
      await container.putArchive(createReadStream(tarFile), { path: target });
    },
    ['mkdir', '-p', target],
  );
}
