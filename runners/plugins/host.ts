/**
 * A runner's plugins: the archive cache, the plugin processes it started, and one gRPC client per address.
 * One per runner daemon; `stop()` ends the processes when the runner stops.
 */
import { join } from 'node:path';
import type { PluginStepRef } from '../protocol/v1.ts';
import { PluginArchiveCache, type PluginArchiveSource } from './archive-cache.ts';
import { deployProviderClient, type DeployProviderClient } from './deploy-client.ts';
import { stepClient } from './grpc.ts';
import { PluginProcesses } from './processes.ts';

export interface PluginHostOptions {
  /** The runner's data folder; archives are kept in its `plugins/` folder. */
  dataDir: string;
  fetchArchive?: PluginArchiveSource;
  log?: (line: string) => void;
}

export class PluginHost {
  private readonly archives: PluginArchiveCache;
  private readonly processes: PluginProcesses;
  private readonly clients = new Map<string, ReturnType<typeof stepClient>>();
  private readonly deployClients = new Map<string, DeployProviderClient>();

  constructor(options: PluginHostOptions) {
    this.archives = new PluginArchiveCache(join(options.dataDir, 'plugins'), options.fetchArchive);
    this.processes = new PluginProcesses(options.log);
  }

  /** The outputs plugin.yaml declares for a step type, from the archive the run pinned. */
  async declaredOutputs(ref: PluginStepRef, stepType: string): Promise<string[]> {
    const { manifest } = await this.archives.get(ref);
    const step = manifest.steps.find((s) => s.type === stepType);
    if (!step) throw new Error(`plugin ${ref.name}@${ref.version} provides no ${stepType} (it provides ${manifest.steps.map((s) => s.type).join(', ')})`);
    return Object.keys(step.outputs);
  }

  /** The address of a remote plugin's service: the one its runtime names, or that of the process the runner starts. */
  private async address(ref: PluginStepRef): Promise<string> {
    const runtime = ref.runtime;
    if (runtime.kind !== 'remote') throw new Error(`plugin ${ref.name} runs in a container, not as a remote service`);
    if (runtime.address) return runtime.address;
    if (!runtime.command?.length) throw new Error(`plugin ${ref.name}@${ref.version}: its remote runtime names neither a command nor an address`);
    const { dir } = await this.archives.get(ref);
    return this.processes.address({
      key: `${ref.digest.replace(/^sha256:/, '').slice(0, 16)}-${runtime.transport}`,
      label: `${ref.name}@${ref.version}`,
      command: runtime.command,
      cwd: dir,
      transport: runtime.transport,
    });
  }

  /** A client for the remote step's service. */
  async client(ref: PluginStepRef): Promise<ReturnType<typeof stepClient>> {
    const address = await this.address(ref);
    let client = this.clients.get(address);
    if (!client) this.clients.set(address, (client = stepClient(address)));
    return client;
  }

  /** A client for the plugin's deploy provider service, after checking that the pinned version declares `provider`. */
  async deployClient(ref: PluginStepRef, provider: string): Promise<DeployProviderClient> {
    const { manifest } = await this.archives.get(ref);
    const names = (manifest.deploy_providers ?? []).map((p) => p.name);
    if (!names.includes(provider)) {
      throw new Error(`plugin ${ref.name}@${ref.version} provides no deploy provider ${provider} (it provides ${names.join(', ') || 'none'})`);
    }
    const address = await this.address(ref);
    let client = this.deployClients.get(address);
    if (!client) this.deployClients.set(address, (client = deployProviderClient(address)));
    return client;
  }

  async stop(): Promise<void> {
    for (const client of [...this.clients.values(), ...this.deployClients.values()]) client.close();
    this.clients.clear();
    this.deployClients.clear();
    await this.processes.stop();
  }
}
