import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import type Dockerode from 'dockerode';
import { workspacePath } from './archive.ts';
import { MANAGED_LABEL, ensureImage, errorMessage, statusCodeOf } from './engine.ts';
import { WORKSPACE_PATH } from './workspace.ts';

/** One JSON line of the engine's build or push progress stream. */
export interface ProgressEvent {
  stream?: string;
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string; Digest?: string; Tag?: string };
}

/** The engine reports build and push failures inside the stream, not as HTTP errors. */
export function progressError(event: ProgressEvent): string | undefined {
  return event.errorDetail?.message || event.error || undefined;
}

/**
 * Calls `onEvent` for each line of a progress stream as it arrives.
 * Resolves 'aborted' (after destroying the stream, which ends the engine's request) if `signal` fires first.
 */
export async function followProgress(
  stream: NodeJS.ReadableStream,
  onEvent: (event: ProgressEvent) => void,
  signal: AbortSignal,
): Promise<'ended' | 'aborted'> {
  const readable = stream as Readable;
  const onAbort = () => readable.destroy();
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const emit = (line: string) => {
    if (line.trim()) onEvent(parseEvent(line));
  };
  try {
    for await (const chunk of readable) {
      pending += decoder.write(chunk as Buffer);
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        emit(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (signal.aborted) return 'aborted';
  emit(pending + decoder.end());
  return 'ended';
}

function parseEvent(line: string): ProgressEvent {
  try {
    return JSON.parse(line) as ProgressEvent;
  } catch {
    return { stream: `${line}\n` };
  }
}

/** `host:5000/team/app:v1` → { repository: 'host:5000/team/app', tag: 'v1' }; no tag means latest. */
export function splitImageRef(ref: string): { repository: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repository: ref, tag: 'latest' };
}

/**
 * A signal that aborts with `signal`, or after `timeoutMs` when one is given; call `dispose` when done.
 * Not AbortSignal.any with AbortSignal.timeout: Node holds those sources weakly, so the timeout can be
 * garbage-collected before it fires.
 */
export function stepDeadline(signal: AbortSignal, timeoutMs: number | null | undefined): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (signal.aborted) abort();
  signal.addEventListener('abort', abort, { once: true });
  const timer = timeoutMs ? setTimeout(abort, timeoutMs) : undefined;
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
    },
  };
}

/**
 * Writes a tar of the workspace folder `context` whose entries are rooted at that folder, as a build
 * context must be: the engine's archive API roots the tar at the folder itself for `<dir>/.`.
 * Read through a created, never started container of `helperImage`, like archive.ts does.
 */
export async function exportBuildContext(docker: Dockerode, helperImage: string, volume: string, context: string, tarFile: string): Promise<void> {
  const folder = workspacePath(context);
  await ensureImage(docker, helperImage, 'if_not_present');
  const container = await docker.createContainer({
    Image: helperImage,
    Cmd: ['true'],
    Labels: { [MANAGED_LABEL]: 'true', 'flowyard.role': 'archive' },
    NetworkDisabled: true,
    HostConfig: { Binds: [`${volume}:${WORKSPACE_PATH}`], NetworkMode: 'none' },
  });
  try {
    let archive: NodeJS.ReadableStream;
    try {
      archive = await container.getArchive({ path: `${folder}/.` });
    } catch (error) {
      if (statusCodeOf(error) === 404) throw new Error(`build context ${folder} not found in the workspace`);
      if (errorMessage(error).includes('not a directory')) throw new Error(`build context ${folder} is not a folder`);
      throw error;
    }
    await pipeline(archive, createWriteStream(tarFile));
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
