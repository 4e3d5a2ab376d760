// What a runner's admin lets workflows do on this build host. Workflow authors are not trusted with the
// host: anything that reaches it (host network, other Docker engines, host paths) is refused unless the
// admin started the runner with the matching --allow-* flag, as Woodpecker's trusted repositories and
// gitlab-runner's config.toml do.
import type Dockerode from 'dockerode';

export interface RunnerPolicy {
  /** `network_mode: host` on steps and builds (--allow-host-network). */
  allowHostNetwork: boolean;
  /** Docker engine URLs a deploy.target may name as docker_host (--allow-docker-host, repeatable). */
  allowDockerHosts: readonly string[];
  /** Containers with host paths mounted (--allow-bind-mounts). */
  allowBindMounts: boolean;
  /** The per-run network of `network_mode: bridge` reaches the internet (--allow-egress). */
  allowEgress: boolean;
}

export const DEFAULT_RUNNER_POLICY: RunnerPolicy = Object.freeze({ allowHostNetwork: false, allowDockerHosts: [], allowBindMounts: false, allowEgress: false });

/** A step asked for something this runner's policy refuses; the message says which flag would allow it. */
export class PolicyError extends Error {}

export function checkHostNetwork(policy: RunnerPolicy, what = 'network_mode host'): void {
  if (!policy.allowHostNetwork) throw new PolicyError(`${what} is not allowed on this runner; its admin can start it with --allow-host-network`);
}

const normaliseHost = (url: string) => url.trim().replace(/\/+$/, '').toLowerCase();

export function checkDockerHost(policy: RunnerPolicy, dockerHost: string): void {
  const allowed = policy.allowDockerHosts.map(normaliseHost);
  if (!allowed.includes(normaliseHost(dockerHost))) {
    throw new PolicyError(`docker_host ${dockerHost} is not allowed on this runner; its admin can start it with --allow-docker-host ${dockerHost}`);
  }
}

/** Host paths in a container's mounts: `Binds` entries with an absolute source, and `Mounts` of type bind. */
export function hostPathsOf(hostConfig: Dockerode.HostConfig | undefined): string[] {
  const binds = (hostConfig?.Binds ?? []).map((bind) => bind.split(':')[0]!).filter((source) => source.startsWith('/'));
  const mounts = (hostConfig?.Mounts ?? []).filter((mount) => mount.Type === 'bind').map((mount) => mount.Source);
  return [...binds, ...mounts];
}

/** Last check before a step container is created: no host network, no host paths, unless allowed. */
export function checkContainer(policy: RunnerPolicy, options: Dockerode.ContainerCreateOptions): void {
  if (options.HostConfig?.NetworkMode === 'host') checkHostNetwork(policy);
  const paths = hostPathsOf(options.HostConfig);
  if (paths.length && !policy.allowBindMounts) {
    throw new PolicyError(`bind mounts of host paths (${paths.join(', ')}) are not allowed on this runner; its admin can start it with --allow-bind-mounts`);
  }
}
