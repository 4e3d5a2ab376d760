/**
 * The executor of plugin steps (a StepSpec with `plugin`): builds the request under the contract's rules and
 * runs it in the plugin's runtime, a container or a remote service.
 */
import { createProvider } from '../deploy/providers.ts';
import { deployWith } from '../executors/deploy.ts';
import type { StepExecutor, StepResult, StepRuntime } from '../executors/types.ts';
import type { PluginStepRef } from '../protocol/v1.ts';
import { checkOutputs, droppedNotes } from './contract.ts';
import { runContainerPlugin } from './container.ts';
import { callExecute } from './grpc.ts';
import type { PluginHost } from './host.ts';
import { buildPluginRequest, type PluginRequest } from './request.ts';

async function runRemote(runtime: StepRuntime, host: PluginHost, plugin: PluginStepRef, request: PluginRequest, declared: string[]): Promise<StepResult> {
  const client = await host.client(plugin);
  const outcome = await callExecute(client, request, {
    onLog: (text) => runtime.output(Buffer.from(`${text}\n`)),
    signal: runtime.signal,
    timeoutMs: runtime.step.timeoutMs ?? undefined,
  });
  if (outcome.state === 'cancelled' || outcome.state === 'timed_out') return { state: outcome.state, error: outcome.error };
  const checked = checkOutputs(('outputs' in outcome ? outcome.outputs : undefined) ?? {}, declared, `the outputs of ${plugin.name}`);
  if ('error' in checked) return { state: 'failed', error: outcome.state === 'failed' ? `${outcome.error}; ${checked.error}` : checked.error };
  if (outcome.state === 'failed') return { state: 'failed', error: outcome.error, outputs: checked.outputs };
  return { state: 'succeeded', outputs: checked.outputs };
}

/**
 * step.deploy to a target whose provider comes from a plugin (the build pins it as the step's plugin): the same
 * executor as for docker, with the plugin's provider. It may use the job's secrets and its environment's.
 */
const deployWithPlugin = (host: PluginHost, plugin: PluginStepRef): StepExecutor =>
  deployWith((target, runtime) => {
    runtime.log(`deploy provider ${target.provider} from plugin ${plugin.name}@${plugin.version}`);
    return createProvider(target, runtime.docker, {
      plugin: plugin.name,
      connect: () => host.deployClient(plugin, target.provider),
      secrets: { ...runtime.job.secrets, ...runtime.step.secrets },
    });
  });

/**
 * The executor for plugin steps of one job. `stepOutputs` is the job's live map of outputs by step name, so a
 * step is sent those of the steps before it that its templates name.
 */
export function pluginStepExecutor(host: PluginHost | undefined, stepOutputs: Record<string, unknown>): StepExecutor {
  return async (runtime) => {
    const plugin = runtime.step.plugin;
    if (!plugin) return { state: 'failed', error: `step ${runtime.step.name} names no plugin` };
    if (!host) return { state: 'failed', error: `plugin step ${runtime.step.type} (${plugin.name}) cannot run: this runner has no plugin host` };
    if (runtime.step.type === 'step.deploy') return deployWithPlugin(host, plugin)(runtime);
    let declared: string[];
    try {
      declared = await host.declaredOutputs(plugin, runtime.step.type);
    } catch (error) {
      return { state: 'failed', error: (error as Error).message };
    }
    const { request, dropped } = buildPluginRequest(runtime, plugin, stepOutputs);
    for (const note of droppedNotes(dropped)) runtime.log(`\x1b[90m${note}\x1b[0m`);
    runtime.log(`plugin ${plugin.name}@${plugin.version} (${plugin.runtime.kind})`);
    if (plugin.runtime.kind === 'container') return runContainerPlugin(runtime, plugin.runtime.image, request, declared);
    try {
      return await runRemote(runtime, host, plugin, request, declared);
    } catch (error) {
      return { state: 'failed', error: (error as Error).message };
    }
  };
}
