import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../docker/engine.ts';
import { exportBuildContext, followProgress, progressError, splitImageRef, stepDeadline } from '../docker/images.ts';
import type { StepExecutor, StepResult, StepRuntime } from './types.ts';

const stringList = (value: unknown) => ((value as unknown[] | undefined) ?? []).map(String);
const stringMap = (value: unknown) => Object.fromEntries(Object.entries((value as Record<string, unknown>) ?? {}).map(([k, v]) => [k, String(v)]));

/** Builds `config.tags[0]` with the engine's classic builder from a workspace folder, then gives the image the other tags. */
export const dockerBuild: StepExecutor = async (runtime) => {
  const [firstTag, ...otherTags] = stringList(runtime.config.tags);
  if (!firstTag) throw new Error('step.docker_build needs at least one tag');
  const tarFile = join(runtime.tempDir, `build-context-${runtime.step.index}.tar`);
  const deadline = stepDeadline(runtime.signal, runtime.step.timeoutMs);
  let built: StepResult | { imageId: string };
  try {
    built = await build(runtime, firstTag, tarFile, deadline.signal);
  } finally {
    deadline.dispose();
    await rm(tarFile, { force: true });
  }
  if ('state' in built) return built;

  const image = runtime.docker.getImage(built.imageId);
  for (const ref of otherTags) {
    const { repository, tag } = splitImageRef(ref);
    await image.tag({ repo: repository, tag });
  }
  const tags = [firstTag, ...otherTags];
  runtime.log(`built ${built.imageId} tagged ${tags.join(', ')}`);
  return { state: 'succeeded', outputs: { image_id: built.imageId, tags } };
};

async function build(runtime: StepRuntime, tag: string, tarFile: string, signal: AbortSignal): Promise<StepResult | { imageId: string }> {
  const { config, docker } = runtime;
  const interrupted = (): StepResult =>
    runtime.signal.aborted ? { state: 'cancelled', error: 'build cancelled' } : { state: 'timed_out', error: `build timed out after ${runtime.step.timeoutMs} ms` };
  const context = String(config.context ?? '.');
  const dockerfile = String(config.dockerfile ?? 'Dockerfile');
  const cacheFrom = stringList(config.cache_from);

  await exportBuildContext(docker, runtime.helperImage, runtime.workspaceVolume, context, tarFile);
  if (signal.aborted) return interrupted();
  runtime.log(`building ${context}/${dockerfile} as ${tag}`);
  let progress: NodeJS.ReadableStream;
  try {
    progress = await docker.buildImage(createReadStream(tarFile), {
      t: tag,
      dockerfile,
      buildargs: stringMap(config.build_args),
      ...(cacheFrom.length ? { cachefrom: JSON.stringify(cacheFrom) } : {}),
      ...(config.target ? { target: String(config.target) } : {}),
      pull: config.pull_policy === 'always',
      // Intermediate containers are removed even when a step of the build fails.
      forcerm: true,
      labels: { 'flowyard.run': runtime.job.runId },
      abortSignal: signal,
    });
  } catch (error) {
    return signal.aborted ? interrupted() : { state: 'failed', error: `build failed: ${errorMessage(error)}` };
  }

  let imageId: string | undefined;
  let failure: string | undefined;
  const ending = await followProgress(
    progress,
    (event) => {
      if (event.stream) runtime.output(Buffer.from(event.stream));
      if (event.aux?.ID) imageId = event.aux.ID;
      failure ??= progressError(event);
    },
    signal,
  );
  if (ending === 'aborted') return interrupted();
  if (failure) {
    runtime.log(`\x1b[31m${failure}\x1b[0m`);
    return { state: 'failed', error: failure };
  }
  return imageId ? { imageId } : { state: 'failed', error: 'the build ended without reporting an image' };
}
