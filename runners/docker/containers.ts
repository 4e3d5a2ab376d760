import type Dockerode from 'dockerode';
import { errorMessage, statusCodeOf } from './engine.ts';

/** Seconds between SIGTERM and SIGKILL when a step's container is stopped (cancel, timeout). */
export const STOP_GRACE_SECONDS = 2;
const REMOVE_ATTEMPTS = 3;

/** docker stop sends SIGTERM, then SIGKILL after the grace period; kill directly if stop itself fails. */
export async function stopContainer(container: Dockerode.Container): Promise<void> {
  try {
    await container.stop({ t: STOP_GRACE_SECONDS });
    return;
  } catch (error) {
    const status = statusCodeOf(error);
    if (status === 304 || status === 404) return;
  }
  try {
    await container.kill();
  } catch {
    // Removal with force follows in every case.
  }
}

/** Removes the container (forcing it down if still running); returns a message if it could not be removed. */
export async function removeContainer(container: Dockerode.Container, what = 'container'): Promise<string | undefined> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= REMOVE_ATTEMPTS; attempt++) {
    try {
      await container.remove({ force: true, v: true });
      return undefined;
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
  return `${what} ${container.id.slice(0, 12)} could not be removed: ${errorMessage(lastError)}`;
}
