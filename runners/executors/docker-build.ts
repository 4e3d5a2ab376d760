import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../docker/engine.ts';
import { exportBuildContext, followProgress, progressError, splitImageRef, stepDeadline } from '../docker/images.ts';
import { RUN_LABEL, reservedNameError, resolveImage, runImageRef } from '../docker/run-images.ts';
import type { StepConfig } from '../../server/engine/schema/steps.ts';
import { withConfig } from './config.ts';
import { refusal, stepNetwork } from './isolation.ts';
import type { StepResult, StepRuntime } from './types.ts';

type DockerBuildConfig = StepConfig<'step.docker_build'>;

/**
 * Builds with the engine's classic builder from a workspace folder. The image is this run's: each of
 * `config.tags` is given in the run's namespace (run-images.ts), where later steps of the run find it
 * under the name they know; other runs see it only once docker_push put it in a registry.
 * RUN instructions have no network unless network_mode says otherwise and the runner allows it.
 */
export const dockerBuild = withConfig('step.docker_build', async (runtime, config) => {
  const tags = config.tags;
  const reserved = tags.map(reservedNameError).find(Boolean);
  if (reserved) return { state: 'failed', error: reserved };
  let networkMode: string;
  try {
    networkMode = await stepNetwork(runtime, config.network_mode);
  } catch (error) {
    return refusal(error);
  }
  const [firstRef, ...otherRefs] = tags.map((tag) => runImageRef(runtime.job.runId, tag));
  const tarFile = join(runtime.tempDir, `build-context-${runtime.step.index}.tar`);
  const deadline = stepDeadline(runtime.signal, runtime.step.timeoutMs);
  let built: StepResult | { imageId: string };
  try {
    built = await build(runtime, config, firstRef!, networkMode, tarFile, deadline.signal);
  } finally {
    deadline.dispose();
    await rm(tarFile, { force: true });
  }
  if ('state' in built) return built;

  const image = runtime.docker.getImage(built.imageId);
  for (const ref of otherRefs) {
    const { repository, tag } = splitImageRef(ref);
    await image.tag({ repo: repository, tag });
  }
  runtime.log(`built ${built.imageId} as ${tags.join(', ')} for this run (${[firstRef, ...otherRefs].join(', ')})`);
  return { state: 'succeeded', outputs: { image_id: built.imageId, tags } };
});

/** cache_from images this run may use, by ID; the others are left out (their layers could be anyone's). */
async function cacheSources(runtime: StepRuntime, cacheFrom: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ref of cacheFrom) {
    try {
      ids.push((await resolveImage(runtime.docker, runtime.job.runId, ref, 'never')).id);
    } catch (error) {
      runtime.log(`cache_from ${ref} not used: ${errorMessage(error)}`);
    }
  }
  return ids;
}

async function build(
  runtime: StepRuntime,
  config: DockerBuildConfig,
  tag: string,
  networkMode: string,
  tarFile: string,
  signal: AbortSignal,
): Promise<StepResult | { imageId: string }> {
  const { docker } = runtime;
  const interrupted = (): StepResult =>
    runtime.signal.aborted
      ? { state: 'cancelled', error: 'build cancelled' }
      : { state: 'timed_out', error: `build timed out after ${runtime.step.timeoutMs} ms` };
  const { context, dockerfile } = config;
  const cacheFrom = await cacheSources(runtime, config.cache_from ?? []);

  await exportBuildContext(docker, runtime.helperImage, runtime.workspaceVolume, context, tarFile);
  if (signal.aborted) return interrupted();
  runtime.log(`building ${context}/${dockerfile} as ${tag}`);
  let progress: NodeJS.ReadableStream;
  try {
    progress = await docker.buildImage(createReadStream(tarFile), {
      t: tag,
      dockerfile,
      buildargs: config.build_args ?? {},
      ...(cacheFrom.length ? { cachefrom: JSON.stringify(cacheFrom) } : {}),
      ...(config.target ? { target: config.target } : {}),
      pull: config.pull_policy === 'always',
      networkmode: networkMode,
      // Intermediate containers are removed even when a step of the build fails.
      forcerm: true,
      labels: { [RUN_LABEL]: runtime.job.runId },
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
