import type Dockerode from 'dockerode';
import { MANAGED_LABEL, statusCodeOf } from './engine.ts';

export const WORKSPACE_PATH = '/workspace';

/** Volume name for a job's workspace: Docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
export function workspaceVolumeName(jobId: string): string {
  return `flowyard-ws-${jobId.replace(/[^a-zA-Z0-9_.-]/g, '_')}`;
}

/** Creates (or reuses, if it exists) the named volume mounted at /workspace by every step of one job. */
export async function createWorkspaceVolume(docker: Dockerode, jobId: string, labels: Record<string, string> = {}): Promise<string> {
  const name = workspaceVolumeName(jobId);
  await docker.createVolume({
    Name: name,
    Labels: { ...labels, [MANAGED_LABEL]: 'true', 'flowyard.job': jobId },
  });
  return name;
}

/** Removes a job's workspace volume; a volume that is already gone is not an error. */
export async function removeWorkspaceVolume(docker: Dockerode, name: string): Promise<void> {
  try {
    await docker.getVolume(name).remove({ force: true });
  } catch (error) {
    if (statusCodeOf(error) !== 404) throw error;
  }
}
