import type Dockerode from 'dockerode';
import { errorMessage } from '../docker/engine.ts';
import { followProgress, progressError, splitImageRef, stepDeadline } from '../docker/images.ts';
import { resolveImage } from '../docker/run-images.ts';
import { withConfig } from './config.ts';
import type { StepResult, StepRuntime } from './types.ts';

const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Pushes of one repository wait for each other, so one job's push cannot re-tag the name under another's. */
const repositoryLocks = new Map<string, Promise<unknown>>();
function oneAtATime<T>(repository: string, work: () => Promise<T>): Promise<T> {
  const previous = repositoryLocks.get(repository) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  repositoryLocks.set(repository, settled);
  void settled.then(() => repositoryLocks.get(repository) === settled && repositoryLocks.delete(repository));
  return next;
}

interface Registry {
  name: string;
  /** host[:port] that image names must start with. */
  host: string;
  auth: Dockerode.AuthConfig;
}

/**
 * The docker.registry module named by the step, with its password read from the job's secrets.
 * Its `insecure` flag is not passed on: whether the engine may use plain HTTP is the engine's own
 * insecure-registries setting (loopback registries are allowed by default).
 */
function resolveRegistry(runtime: StepRuntime, name: string): Registry {
  const module = runtime.job.modules[name];
  if (!module) throw new Error(`registry module "${name}" is not defined in this workflow`);
  if (module.type !== 'docker.registry') throw new Error(`module "${name}" has type ${module.type}, not docker.registry`);
  const host = String(module.config.url ?? '')
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/+$/, '');
  if (!host) throw new Error(`registry module "${name}" has no url`);
  const username = module.config.username === undefined ? undefined : String(module.config.username);
  const secretName = module.config.password_secret === undefined ? undefined : String(module.config.password_secret);
  const password = secretName === undefined ? undefined : runtime.job.secrets[secretName];
  if (secretName !== undefined && password === undefined)
    throw new Error(`secret "${secretName}" (password of registry "${name}") is not available to this job`);
  // The engine wants an X-Registry-Auth header even for anonymous pushes, so an empty one is sent then.
  const auth = username !== undefined || password !== undefined ? { username: username ?? '', password: password ?? '', serveraddress: host } : {};
  return { name, host, auth };
}

/**
 * Pushes `config.image` (this run's build of that name, or an image the run may use), then the same image
 * under each of `config.tags`, to the registry module's host. The registry names exist on the engine only
 * while the push runs, so no other run finds them there.
 */
export const dockerPush = withConfig('step.docker_push', async (runtime, config) => {
  const image = config.image;
  const registry = resolveRegistry(runtime, config.registry);
  if (!image.startsWith(`${registry.host}/`)) {
    return { state: 'failed', error: `image "${image}" must be named ${registry.host}/... to push to registry "${registry.name}"` };
  }
  const { repository } = splitImageRef(image);
  const extraTags = config.tags ?? [];
  const badTag = extraTags.find((tag) => !TAG_PATTERN.test(tag));
  if (badTag !== undefined) return { state: 'failed', error: `"${badTag}" is not a valid image tag` };
  let imageId: string;
  try {
    imageId = (await resolveImage(runtime.docker, runtime.job.runId, image, 'never')).id;
  } catch (error) {
    return { state: 'failed', error: `image "${image}" cannot be pushed from this runner (build it in this run first): ${errorMessage(error)}` };
  }

  const refs = [image, ...extraTags.map((tag) => `${repository}:${tag}`)];
  return oneAtATime(repository, () => pushAll(runtime, registry, imageId, refs));
});

async function pushAll(runtime: StepRuntime, registry: Registry, imageId: string, refs: string[]): Promise<StepResult> {
  const { repository } = splitImageRef(refs[0]!);
  const added: string[] = [];
  const deadline = stepDeadline(runtime.signal, runtime.step.timeoutMs);
  try {
    for (const ref of refs) {
      if (
        (
          await runtime.docker
            .getImage(ref)
            .inspect()
            .catch(() => undefined)
        )?.Id === imageId
      )
        continue;
      await runtime.docker.getImage(imageId).tag({ repo: repository, tag: splitImageRef(ref).tag });
      added.push(ref);
    }
    let digest: string | undefined;
    for (const ref of refs) {
      const pushed = await pushRef(runtime, registry, ref, deadline.signal);
      if ('state' in pushed) return pushed;
      digest ??= pushed.digest;
    }
    return { state: 'succeeded', outputs: { image: refs[0], digest } };
  } finally {
    deadline.dispose();
    for (const ref of added)
      await runtime.docker
        .getImage(ref)
        .remove({ noprune: true })
        .catch(() => undefined);
  }
}

async function pushRef(runtime: StepRuntime, registry: Registry, ref: string, signal: AbortSignal): Promise<StepResult | { digest: string }> {
  const interrupted = (): StepResult =>
    runtime.signal.aborted
      ? { state: 'cancelled', error: 'push cancelled' }
      : { state: 'timed_out', error: `push timed out after ${runtime.step.timeoutMs} ms` };
  const failed = (reason: string): StepResult => {
    const error = `push of ${ref} to registry "${registry.name}" failed: ${reason}`;
    runtime.log(`\x1b[31m${error}\x1b[0m`);
    return { state: 'failed', error };
  };
  if (signal.aborted) return interrupted();

  runtime.log(`pushing ${ref} to registry "${registry.name}" (${registry.host})`);
  const { repository, tag } = splitImageRef(ref);
  let progress: NodeJS.ReadableStream;
  try {
    progress = await runtime.docker.getImage(repository).push({ tag, authconfig: registry.auth, abortSignal: signal });
  } catch (error) {
    return signal.aborted ? interrupted() : failed(errorMessage(error));
  }
  let digest: string | undefined;
  let failure: string | undefined;
  const ending = await followProgress(
    progress,
    (event) => {
      failure ??= progressError(event);
      if (event.aux?.Digest) digest = event.aux.Digest;
      // Byte-count updates of each layer would flood the log; the layer states around them are kept.
      if (event.status && event.progressDetail?.current === undefined) runtime.log(event.id ? `${event.id}: ${event.status}` : event.status);
    },
    signal,
  );
  if (ending === 'aborted') return interrupted();
  if (failure) return failed(failure);
  if (!digest) return failed('the registry reported no digest');
  return { digest };
}
