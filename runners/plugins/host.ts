/**
 * A runner's plugins: the archive cache, the plugin processes it started, and one gRPC client per address.
 * One per runner daemon; `stop()` ends the processes when the runner stops.
 */
import { join } from 'node:path';
import type { PluginStepRef } from '../protocol/v1.ts';
import { PluginArchiveCache, type PluginArchiveSource } from './archive-cache.ts';
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

  /** A client for the remote step's service: the address its runtime names, or the process the runner starts. */
  async client(ref: PluginStepRef): Promise<ReturnType<typeof stepClient>> {
    const runtime = ref.runtime;
    if (runtime.kind !== 'remote') throw new Error(`plugin ${ref.name} runs in a container, not as a remote service`);
    let address = runtime.address;
    if (!address) {
      if (!runtime.command?.length) throw new Error(`plugin ${ref.name}@${ref.version}: its remote runtime names neither a command nor an address`);
      const { dir } = await this.archives.get(ref);
      address = await this.processes.address({
        key: `${ref.digest.replace(/^sha256:/, '').slice(0, 16)}-${runtime.transport}`,
        label: `${ref.name}@${ref.version}`,
        command: runtime.command,
        cwd: dir,
        transport: runtime.transport,
      });
    }
    let client = this.clients.get(address);
    if (!client) this.clients.set(address, (client = stepClient(address)));
    return client;
  }

  async stop(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    await this.processes.stop();
  }
}
