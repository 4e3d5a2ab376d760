import type Dockerode from 'dockerode';
import { DockerProvider } from './docker-provider.ts';
import { PluginDeployProvider, type PluginProviderSource } from './plugin-provider.ts';
import type { DeployProvider, DeployTarget } from './provider.ts';

/**
 * The provider for a deploy.target: docker is built in (`runnerDocker` is used when the target names no
 * docker_host); any other provider comes from the plugin the build pinned for it (`plugin`).
 */
export function createProvider(target: DeployTarget, runnerDocker: Dockerode, plugin?: PluginProviderSource): DeployProvider {
  if (target.provider === 'docker') return DockerProvider.forTarget(target, runnerDocker);
  if (!plugin) {
    throw new Error(
      `deploy provider "${target.provider}" comes from a plugin, and this deploy step carries none: list the plugin under requires.plugins and publish the workflow again`,
    );
  }
  return new PluginDeployProvider(target, plugin);
}
