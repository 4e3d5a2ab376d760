/**
 * A deploy provider served by a plugin: the DeployProvider interface over the plugin's DeployProviderService, so
 * step.deploy (and rollback, status, metrics) use it exactly as they use the built-in docker provider.
 */
import type { JsonObject } from '../plugins/contract.ts';
import { representableObject } from '../plugins/contract.ts';
import { type DeployProviderClient, streamedCall, unaryCall } from '../plugins/deploy-client.ts';
import {
  type AppStatusMessage,
  decodeMetrics,
  decodeOutcome,
  decodeStatus,
  encodePlan,
  encodeTarget,
  type MetricsMessage,
  type PluginTarget,
} from '../plugins/deploy-grpc.ts';
import type { AppStatus, DeployContext, DeployOutcome, DeployPlan, DeployProvider, DeployTarget, InstanceMetrics } from './provider.ts';

export interface PluginProviderSource {
  /** The plugin that provides the target's provider, for messages. */
  plugin: string;
  /** A client of the plugin's service (its process is started on first use). */
  connect(): Promise<DeployProviderClient>;
  /** The secrets the deploy step may use, by name; only those the settings name are sent. */
  secrets: Readonly<Record<string, string>>;
}

/**
 * The secrets a target's settings name: the value of every top-level setting whose name ends in `_secret`.
 * A named secret the step does not have is an error naming the setting.
 */
export function namedSecrets(target: DeployTarget, available: Readonly<Record<string, string>>): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [setting, name] of Object.entries(target.settings ?? {})) {
    if (!setting.endsWith('_secret') || typeof name !== 'string') continue;
    if (!Object.hasOwn(available, name)) {
      throw new Error(
        `deploy target settings.${setting} names the secret ${name}, which this deploy step does not have (declare it under secrets, or set it on the environment)`,
      );
    }
    secrets[name] = available[name]!;
  }
  return secrets;
}

export class PluginDeployProvider implements DeployProvider {
  readonly name: string;
  private readonly target: PluginTarget;

  constructor(
    target: DeployTarget,
    private readonly source: PluginProviderSource,
  ) {
    this.name = target.provider;
    const settings: JsonObject = representableObject(target.settings ?? {}, [], 'settings');
    this.target = { provider: target.provider, region: target.region ?? '', settings, secrets: namedSecrets(target, source.secrets) };
  }

  private request(extra: Record<string, unknown> = {}) {
    return { target: encodeTarget(this.target), ...extra };
  }

  async testConnection(): Promise<string> {
    const answer = await unaryCall<{ description: string; error: string }>(await this.source.connect(), 'TestConnection', this.request());
    return answer.description;
  }

  private async imageCall(method: 'PushImage' | 'PullImage', image: string, context: DeployContext): Promise<void> {
    const outcome = await streamedCall(await this.source.connect(), method, this.request({ image }), context);
    if (outcome.error) throw new Error(outcome.error);
  }

  pushImage = (image: string, context: DeployContext) => this.imageCall('PushImage', image, context);
  pullImage = (image: string, context: DeployContext) => this.imageCall('PullImage', image, context);

  async deploy(plan: DeployPlan, context: DeployContext): Promise<DeployOutcome> {
    return decodeOutcome(await streamedCall(await this.source.connect(), 'Deploy', encodePlan(this.target, plan), context));
  }

  async rollback(app: string, environment: string, context: DeployContext): Promise<DeployOutcome> {
    return decodeOutcome(await streamedCall(await this.source.connect(), 'Rollback', this.request({ app, environment }), context));
  }

  async status(app: string, environment: string): Promise<AppStatus> {
    return decodeStatus(await unaryCall<AppStatusMessage>(await this.source.connect(), 'Status', this.request({ app, environment })));
  }

  async metrics(app: string, environment: string): Promise<InstanceMetrics[]> {
    return decodeMetrics(await unaryCall<MetricsMessage>(await this.source.connect(), 'Metrics', this.request({ app, environment })));
  }
}
