import type Dockerode from 'dockerode';
import { DockerProvider } from './docker-provider.ts';
import type { AppStatus, DeployOutcome, DeployProvider, DeployTarget, InstanceMetrics, ProviderName } from './provider.ts';

const CLOUD_PROVIDER_TITLES: Record<Exclude<ProviderName, 'docker'>, string> = {
  aws_ecs: 'AWS ECS',
  gcp_cloud_run: 'GCP Cloud Run',
  azure_container_apps: 'Azure Container Apps',
  digitalocean: 'DigitalOcean App Platform',
};

/** A cloud provider whose implementation is still to be written: every operation says so. */
export class NotImplementedProvider implements DeployProvider {
  constructor(readonly name: Exclude<ProviderName, 'docker'>) {}

  private refuse(): never {
    throw new Error(`deploy provider "${this.name}" (${CLOUD_PROVIDER_TITLES[this.name]}) is not implemented yet; only "docker" can deploy today`);
  }

  testConnection = async (): Promise<string> => this.refuse();
  pushImage = async (): Promise<void> => this.refuse();
  pullImage = async (): Promise<void> => this.refuse();
  deploy = async (): Promise<DeployOutcome> => this.refuse();
  status = async (): Promise<AppStatus> => this.refuse();
  rollback = async (): Promise<DeployOutcome> => this.refuse();
  metrics = async (): Promise<InstanceMetrics[]> => this.refuse();
}

/** The provider for a deploy.target; `runnerDocker` is used when a docker target names no docker_host. */
export function createProvider(target: DeployTarget, runnerDocker: Dockerode): DeployProvider {
  if (target.provider === 'docker') return DockerProvider.forTarget(target, runnerDocker);
  return new NotImplementedProvider(target.provider);
}
