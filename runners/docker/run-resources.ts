import type Dockerode from 'dockerode';
import type { JobResult, JobSpec } from '../protocol/v1.ts';
import { removeRunImages } from './run-images.ts';
import { removeRunNetwork } from './run-network.ts';

/**
 * End of a job: the run's network goes (the next job makes it again when needed), and the run's images go
 * when the run ends with this job. They stay after a job that succeeded before a gate (the next job of the
 * run builds on them; it usually runs on this runner) and after a job handed back (released, lease lost),
 * which runs again. Never throws.
 */
export async function releaseRunResources(docker: Dockerode, job: JobSpec, result: JobResult | undefined, signal: AbortSignal): Promise<void> {
  await removeRunNetwork(docker, job.runId);
  const handedBack = signal.aborted && signal.reason !== 'cancelled';
  const gateFollows = job.saveWorkspace !== null && result?.state === 'succeeded';
  if (!handedBack && !gateFollows) await removeRunImages(docker, job.runId);
}
