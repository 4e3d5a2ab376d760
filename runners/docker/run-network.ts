import type Dockerode from 'dockerode';
import { MANAGED_LABEL, statusCodeOf } from './engine.ts';

/** Network names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
export function runNetworkName(runId: string): string {
  return `flowyard-run-${runId.replace(/[^a-zA-Z0-9_.-]/g, '_')}`;
}

/**
 * The network of `network_mode: bridge`: one per run, shared by that run's containers only, so they
 * reach each other (a service started by docker_run) but not other runs' containers nor the host's
 * loopback services. Internal (no route out) unless the runner allows egress. Created on first use.
 */
export async function ensureRunNetwork(docker: Dockerode, runId: string, allowEgress: boolean): Promise<string> {
  const name = runNetworkName(runId);
  try {
    await docker.getNetwork(name).inspect();
    return name;
  } catch (error) {
    if (statusCodeOf(error) !== 404) throw error;
  }
  try {
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      Internal: !allowEgress,
      CheckDuplicate: true,
      Labels: { [MANAGED_LABEL]: 'true', 'flowyard.run': runId },
    });
  } catch (error) {
    if (statusCodeOf(error) !== 409) throw error; // created by a concurrent step of the same run
  }
  return name;
}

/** Removes the run's network; one still used (a detached docker_run container) or already gone is left alone. */
export async function removeRunNetwork(docker: Dockerode, runId: string): Promise<void> {
  try {
    await docker.getNetwork(runNetworkName(runId)).remove();
  } catch {
    // 404: never created; 403/409: a detached container still uses it.
  }
}
