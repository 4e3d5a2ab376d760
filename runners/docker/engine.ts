import Dockerode from 'dockerode';

export type PullPolicy = 'if_not_present' | 'always' | 'never';

/** Label put on every container and volume Flowyard creates, so leftovers can be found. */
export const MANAGED_LABEL = 'flowyard.managed';

/**
 * Connects to the engine named by DOCKER_HOST (unix://, tcp://, ssh://, with
 * DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) or, without it, the default local socket.
 */
export function createDockerClient(options?: Dockerode.DockerOptions): Dockerode {
  return new Dockerode(options);
}

/** Where the client connects, for error messages. */
export function describeDockerHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

export async function pingDocker(docker: Dockerode, timeoutMs = 3000): Promise<boolean> {
  try {
    await withTimeout(docker.ping(), timeoutMs);
    return true;
  } catch {
    return false;
  }
}

/** Makes sure `ref` is available locally, pulling according to `policy`. Throws with a message fit for a step log. */
export async function ensureImage(docker: Dockerode, ref: string, policy: PullPolicy): Promise<void> {
  if (policy !== 'always' && (await imageExists(docker, ref))) return;
  if (policy === 'never') throw new Error(`image "${ref}" not present and pull_policy is never`);
  try {
    await pullImage(docker, ref);
  } catch (error) {
    const reason = errorMessage(error);
    throw new Error(
      policy === 'always' ? `image "${ref}" pull failed (pull_policy is always): ${reason}` : `image "${ref}" not found locally and pull failed: ${reason}`,
    );
  }
}

export async function imageExists(docker: Dockerode, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (error) {
    if (statusCodeOf(error) === 404) return false;
    throw error;
  }
}

interface PullProgressEvent {
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Pulls `ref`; resolves to the manifest digest the registry reported (sha256:…), when it did. */
export async function pullImage(docker: Dockerode, ref: string): Promise<string | undefined> {
  const stream = await docker.pull(ref);
  // The engine reports pull failures inside the progress stream, not as an HTTP error.
  const events = await new Promise<PullProgressEvent[]>((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, output: PullProgressEvent[]) => (error ? reject(error) : resolve(output)));
  });
  const failure = events.find((event) => event.error || event.errorDetail?.message);
  if (failure) throw new Error(failure.errorDetail?.message ?? failure.error);
  return events.map((event) => /^Digest: (sha256:[0-9a-f]{64})$/.exec(event.status ?? '')?.[1]).find(Boolean);
}

/** HTTP status of a dockerode error (404 for "no such container/image/volume"). */
export function statusCodeOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'statusCode' in error) {
    const { statusCode } = error as { statusCode: unknown };
    return typeof statusCode === 'number' ? statusCode : undefined;
  }
  return undefined;
}

/** The error's message without dockerode's "(HTTP code 404) no such container - " prefix. */
export function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
