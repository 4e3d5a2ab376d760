import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import { MANAGED_LABEL, ensureImage, imageExists, statusCodeOf } from './engine.ts';
import { WORKSPACE_PATH } from './workspace.ts';

/**
 * An image without a single file, made on the engine from an empty tar. A container of it is only a handle on the
 * workspace volume for the archive API: on vfs, creating one from the helper image copies that image's whole tree
 * (270–660 ms), creating one from this copies nothing.
 */
export const HANDLE_IMAGE = 'flowyard/workspace-handle:empty';
const handleImages = new WeakMap<Dockerode, Promise<string>>();

/** The handle image (imported once per engine), or `fallback` when the engine refuses the import. */
function handleImage(docker: Dockerode, fallback: string): Promise<string> {
  let ready = handleImages.get(docker);
  if (!ready) {
    ready = (async () => {
      if (await imageExists(docker, HANDLE_IMAGE)) return HANDLE_IMAGE;
      try {
        const [repo, tag] = HANDLE_IMAGE.split(':') as [string, string];
        // Two zero blocks: a tar with nothing in it.
        const progress = await docker.importImage(Readable.from([Buffer.alloc(1024)]) as never, { repo, tag });
        await new Promise<void>((done, fail) => docker.modem.followProgress(progress, (error: Error | null) => (error ? fail(error) : done())));
        return HANDLE_IMAGE;
      } catch {
        await ensureImage(docker, fallback, 'if_not_present');
        return fallback;
      }
    })();
    ready.catch(() => handleImages.delete(docker));
    handleImages.set(docker, ready);
  }
  return ready;
}

/**
 * Files inside a workspace volume are reached through a container that is created but never started (unless
 * `cmd` must run): the engine's archive API reads and writes its mounts without running anything.
 */
async function withIdleContainer<T>(
  docker: Dockerode,
  image: string,
  volume: string,
  use: (c: Dockerode.Container) => Promise<T>,
  cmd: string[] = ['true'],
): Promise<T> {
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

/**
 * Streams a tar of `path` (file or folder) out of the workspace volume into `use`, through a handle container
 * (`fallbackImage` when the engine cannot make the empty handle image). The stream ends when the tar does.
 */
export async function withWorkspaceArchive<T>(
  docker: Dockerode,
  fallbackImage: string,
  volume: string,
  path: string,
  use: (tar: NodeJS.ReadableStream) => Promise<T>,
): Promise<T> {
  // `<dir>/.` asks the engine for the folder's contents rooted at the folder itself.
  const source = /\/\.$/.test(path) ? `${workspacePath(path.slice(0, -2) || '/')}/.` : workspacePath(path);
  const image = await handleImage(docker, fallbackImage);
  return withIdleContainer(docker, image, volume, async (container) => {
    let archive: NodeJS.ReadableStream;
    try {
      archive = await container.getArchive({ path: source });
    } catch (error) {
      if (statusCodeOf(error) === 404) throw new Error(`nothing at ${source} to upload`);
      throw error;
    }
    return use(archive);
  });
}

/** Writes a tar of `path` (file or folder) from the workspace volume to `tarFile`. */
export async function exportFromWorkspace(docker: Dockerode, image: string, volume: string, path: string, tarFile: string): Promise<void> {
  await withWorkspaceArchive(docker, image, volume, path, (tar) => pipeline(tar, createWriteStream(tarFile)));
}

/** Unpacks a tar made by `exportFromWorkspace` into `dest` inside the workspace volume, creating `dest`. */
export async function importIntoWorkspace(docker: Dockerode, image: string, volume: string, dest: string, tarFile: string): Promise<void> {
  const target = workspacePath(dest);
  // The archive API only extracts into an existing folder, and making one takes a (very short) run.
  await ensureImage(docker, image, 'if_not_present');
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
