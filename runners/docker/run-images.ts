// Images on a shared engine, between runs that do not trust each other. A run's builds are tagged in a
// namespace of that run (flowyard-run/<run>/<name>) and labelled flowyard.run=<run id>; a step's image is
// resolved to an image ID by these rules before its container is created:
//   1. built by this run under that name → the run's image;
//   2. a local image is used only if no run built it (the runner's base images, what the admin loaded,
//      what was pulled), this run built it, or this runner pulled exactly that image from a registry;
//   3. otherwise it is pulled, and the image the registry answered with (by digest) is used.
// A local tag that another run made is never used in place of the registry image.
import type Dockerode from 'dockerode';
import { errorMessage, pullImage, statusCodeOf, type PullPolicy } from './engine.ts';
import { splitImageRef } from './images.ts';

export const RUN_LABEL = 'flowyard.run';
const RUN_NAMESPACE = 'flowyard-run';
/** Names of the images Flowyard ships and of run namespaces: no workflow may build or tag them. */
const RESERVED_NAMESPACES = ['flowyard', 'local', RUN_NAMESPACE];

/** Image IDs this runner process pulled from a registry: their content is the registry's, whoever built it. */
const pulledByThisRunner = new Set<string>();

export interface ResolvedImage {
  /** The image ID (sha256:…) to create containers from. */
  id: string;
  /** The local name it was found under (the run-namespaced name for images built by this run). */
  ref: string;
  builtByRun: boolean;
}

/** Docker Hub's implicit prefixes dropped, so `docker.io/library/app` and `app` are one name. */
function canonicalRepository(repository: string): string {
  return repository.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, '');
}

/** A path component of a Docker reference: [a-z0-9] runs joined by . _ __ or dashes. */
const runComponent = (runId: string) =>
  runId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '') || 'run';

/** `demo-web:1.4` built by run R → `flowyard-run/<R>/demo-web:1.4`; a registry host's `:port` becomes `-port`. */
export function runImageRef(runId: string, ref: string): string {
  const { repository, tag } = splitImageRef(ref);
  const path = canonicalRepository(repository).replace(/^([^/]+):(\d+)\//, '$1-$2/');
  return `${RUN_NAMESPACE}/${runComponent(runId)}/${path}:${tag}`;
}

/** An error message when `ref` names a reserved namespace (the shipped base images, run namespaces). */
export function reservedNameError(ref: string): string | undefined {
  const first = canonicalRepository(splitImageRef(ref).repository).toLowerCase().split('/')[0]!;
  if (!RESERVED_NAMESPACES.includes(first)) return undefined;
  return `image name ${ref} is reserved (${RESERVED_NAMESPACES.map((n) => `${n}/`).join(', ')} hold the runner's own images and other runs' builds); choose another name`;
}

async function inspectImage(docker: Dockerode, ref: string): Promise<Dockerode.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(ref).inspect();
  } catch (error) {
    if (statusCodeOf(error) === 404) return undefined;
    throw error;
  }
}

const builderOf = (info: Dockerode.ImageInspectInfo) => info.Config?.Labels?.[RUN_LABEL];

function usableBy(info: Dockerode.ImageInspectInfo, runId: string): boolean {
  const builder = builderOf(info);
  return builder === undefined || builder === runId || pulledByThisRunner.has(info.Id);
}

const unavailable = (ref: string, detail: string) => new Error(`image ${ref} is not available: pull it from a registry or build it in this run (${detail})`);

/** Resolves a step's image reference to an image ID this run may use (see the rules at the top); throws a message fit for the step log. */
export async function resolveImage(docker: Dockerode, runId: string, ref: string, policy: PullPolicy = 'if_not_present'): Promise<ResolvedImage> {
  if (!ref.includes('@')) {
    const runRef = runImageRef(runId, ref);
    const built = await inspectImage(docker, runRef);
    if (built && builderOf(built) === runId) return { id: built.Id, ref: runRef, builtByRun: true };
  }
  const local = policy === 'always' ? undefined : await inspectImage(docker, ref);
  if (local && usableBy(local, runId)) return { id: local.Id, ref, builtByRun: false };
  const why = `the local ${ref} was built by another run`;
  if (policy === 'never') {
    if (!local) throw new Error(`image "${ref}" not present and pull_policy is never`);
    throw unavailable(ref, `${why}, and pull_policy is never`);
  }
  let digest: string | undefined;
  try {
    digest = await pullImage(docker, ref);
  } catch (error) {
    if (policy === 'always') throw new Error(`image "${ref}" pull failed (pull_policy is always): ${errorMessage(error)}`);
    if (!local) throw new Error(`image "${ref}" not found locally and pull failed: ${errorMessage(error)} (pull it from a registry or build it in this run)`);
    throw unavailable(ref, `${why}, and the pull failed: ${errorMessage(error)}`);
  }
  // By digest: the image the registry answered with, even if a run re-tagged the name meanwhile.
  const pulled = await inspectImage(docker, digest && !ref.includes('@') ? `${splitImageRef(ref).repository}@${digest}` : ref);
  if (!pulled) throw unavailable(ref, 'the engine reported the pull but has no such image');
  pulledByThisRunner.add(pulled.Id);
  return { id: pulled.Id, ref, builtByRun: false };
}

/**
 * Removes the images built by a run: every tag they carry, then the image unless a container still uses
 * it (a deployed instance keeps its image). Never throws.
 */
export async function removeRunImages(docker: Dockerode, runId: string): Promise<void> {
  const images = await docker.listImages({ filters: { label: [`${RUN_LABEL}=${runId}`] } }).catch(() => []);
  for (const image of images) {
    for (const tag of image.RepoTags ?? []) {
      if (tag !== '<none>:<none>')
        await docker
          .getImage(tag)
          .remove()
          .catch(() => undefined);
    }
    await docker
      .getImage(image.Id)
      .remove()
      .catch(() => undefined);
  }
}
