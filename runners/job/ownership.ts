import type Dockerode from 'dockerode';
import { removeContainer } from '../docker/containers.ts';
import { removeWorkspaceVolume } from '../docker/workspace.ts';

export const RUNNER_LABEL = 'flowyard.runner';
export const JOB_LABEL = 'flowyard.job';

/** Labels of the containers and the workspace volume that live and die with one job on one runner. */
export function jobLabels(jobId: string, runnerId: string | undefined): Record<string, string> {
  return { [JOB_LABEL]: jobId, ...(runnerId ? { [RUNNER_LABEL]: runnerId } : {}) };
}

async function removeAll(docker: Dockerode, containers: Dockerode.ContainerInfo[]): Promise<number> {
  const problems = await Promise.all(containers.map((info) => removeContainer(docker.getContainer(info.Id))));
  return problems.filter((problem) => problem === undefined).length;
}

/**
 * Kills (no grace period) and removes a job's containers: a runner that lost its lease must be stopped before
 * the API can hand the job to another runner. Also catches helper containers that only mount the workspace.
 */
export async function killJobContainers(docker: Dockerode, runnerId: string, jobId: string, workspaceVolume: string): Promise<number> {
  const [labelled, mounting] = await Promise.all([
    docker.listContainers({ all: true, filters: { label: [`${RUNNER_LABEL}=${runnerId}`, `${JOB_LABEL}=${jobId}`] } }),
    docker.listContainers({ all: true, filters: { volume: [workspaceVolume] } }),
  ]);
  const byId = new Map([...labelled, ...mounting].map((info) => [info.Id, info]));
  return removeAll(docker, [...byId.values()]);
}

/**
 * What a runner killed mid-job left behind: containers and workspace volumes labelled with this runner's id
 * whose job it is not running now. Runs at start, when no job is ours yet.
 */
export async function removeLeftovers(docker: Dockerode, runnerId: string, runningJobs: ReadonlySet<string> = new Set()) {
  const leftover = (labels: Record<string, string> | null | undefined) => !runningJobs.has(labels?.[JOB_LABEL] ?? '');
  const containers = (await docker.listContainers({ all: true, filters: { label: [`${RUNNER_LABEL}=${runnerId}`] } })).filter((c) => leftover(c.Labels));
  const volumes = ((await docker.listVolumes({ filters: { label: [`${RUNNER_LABEL}=${runnerId}`] } })).Volumes ?? []).filter((v) => leftover(v.Labels));
  let removedContainers = await removeAll(docker, containers);
  for (const volume of volumes) {
    removedContainers += await removeAll(docker, await docker.listContainers({ all: true, filters: { volume: [volume.Name] } }));
    await removeWorkspaceVolume(docker, volume.Name);
  }
  return { containers: removedContainers, volumes: volumes.length };
}
