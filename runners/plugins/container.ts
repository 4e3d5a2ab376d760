/**
 * Container plugin steps (like Woodpecker plugins and GitHub container actions): the plugin's image runs with
 * its own entrypoint in exactly the sandbox of step.shell_exec (no network unless asked for and allowed, all
 * but a few capabilities dropped, no-new-privileges, limits, the job's /workspace). The request is
 * /flowyard/request.json, the config's top-level values are also PLUGIN_<KEY> variables, and the plugin writes
 * its outputs to /flowyard/outputs.json. Exit code 0 is success.
 */
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { parseSize } from '../../server/engine/schema/common.ts';
import { errorMessage, statusCodeOf } from '../docker/engine.ts';
import { checkContainer } from '../docker/policy.ts';
import { containerOptions, runContainer, type ShellExecSpec } from '../docker/shell-exec.ts';
import { removeContainer } from '../docker/containers.ts';
import { policyOf, refusal, stepImage, stepNetwork } from '../executors/isolation.ts';
import type { StepResult, StepRuntime } from '../executors/types.ts';
import { firstFileInTar, tarArchive } from '../scan/tar.ts';
import { checkOutputs, type JsonObject } from './contract.ts';
import { pluginEnv, type PluginRequest } from './request.ts';

const REQUEST_FILE = '/flowyard/request.json';
const OUTPUTS_FILE = '/flowyard/outputs.json';
const MAX_OUTPUTS_BYTES = 1024 * 1024;

/** Woodpecker's convention: `url` → PLUGIN_URL; lists and objects as JSON. */
function settingsEnv(config: JsonObject): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [
      `PLUGIN_${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`,
      typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value),
    ]),
  );
}

async function putRequest(container: Dockerode.Container, request: PluginRequest, tempFile: string): Promise<void> {
  await writeFile(tempFile, JSON.stringify(request), { mode: 0o600 });
  try {
    // The folder is writable by any user, so an image that runs as a non-root user can write its outputs.
    const archive = tarArchive([
      { type: 'dir', name: 'flowyard', mode: 0o777 },
      { type: 'file', name: 'flowyard/request.json', mode: 0o644, hostFile: tempFile },
    ]);
    await container.putArchive(archive, { path: '/' });
  } finally {
    await rm(tempFile, { force: true });
  }
}

/** The outputs file the plugin wrote, or undefined when it wrote none. */
async function readOutputs(container: Dockerode.Container): Promise<unknown> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await container.getArchive({ path: OUTPUTS_FILE });
  } catch (error) {
    if (statusCodeOf(error) === 404) return undefined;
    throw error;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_OUTPUTS_BYTES + 64 * 1024) throw new Error(`${OUTPUTS_FILE} is larger than ${MAX_OUTPUTS_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = firstFileInTar(Buffer.concat(chunks)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${OUTPUTS_FILE} is not valid JSON: ${text.slice(0, 200)}`);
  }
}

const NETWORK_MODES = ['none', 'bridge', 'host'] as const;

/** A plugin whose config schema declares network_mode gets that network, under the same policy as step.shell_exec. */
function networkModeOf(config: Record<string, unknown>): (typeof NETWORK_MODES)[number] {
  const mode = config.network_mode ?? 'none';
  if (!NETWORK_MODES.includes(mode as never)) throw new Error(`config.network_mode ${String(mode)} is not one of ${NETWORK_MODES.join(', ')}`);
  return mode as (typeof NETWORK_MODES)[number];
}

export async function runContainerPlugin(runtime: StepRuntime, image: string, request: PluginRequest, declared: readonly string[]): Promise<StepResult> {
  const config = runtime.config;
  let networkMode: string;
  let imageId: string;
  try {
    networkMode = await stepNetwork(runtime, networkModeOf(config));
    imageId = (await stepImage(runtime, image)).id;
  } catch (error) {
    return refusal(error);
  }
  const spec: ShellExecSpec = {
    image: imageId,
    commands: [],
    env: { ...pluginEnv(runtime, request), ...settingsEnv(request.config), FLOWYARD_REQUEST: REQUEST_FILE, FLOWYARD_OUTPUTS: OUTPUTS_FILE },
    timeoutMs: runtime.step.timeoutMs ?? undefined,
    memoryBytes: config.memory_limit === undefined ? undefined : (parseSize(config.memory_limit as string | number) ?? undefined),
    nanoCpus: typeof config.cpu_limit === 'number' ? Math.round(config.cpu_limit * 1e9) : undefined,
    networkMode,
    pullPolicy: 'never',
    policy: policyOf(runtime),
    workspaceVolume: runtime.workspaceVolume,
    labels: { ...runtime.jobLabels, 'flowyard.run': runtime.job.runId, 'flowyard.step': runtime.step.name },
  };
  // The shell step's options with the image's own entrypoint and command instead of the shell script.
  const { Entrypoint: _entrypoint, Cmd: _cmd, ...options } = containerOptions(spec);
  try {
    checkContainer(spec.policy!, options);
  } catch (error) {
    return refusal(error);
  }
  if (runtime.signal.aborted) return { state: 'cancelled' };
  let container: Dockerode.Container;
  try {
    container = await runtime.docker.createContainer(options);
  } catch (error) {
    return { state: 'failed', error: `could not create the plugin container: ${errorMessage(error)}` };
  }
  try {
    await putRequest(container, request, join(runtime.tempDir, `plugin-request-${runtime.step.index}.json`));
    const outcome = await runContainer(runtime.docker, container, spec, { onOutput: (chunk) => runtime.output(chunk), signal: runtime.signal });
    if (outcome.status === 'cancelled' || outcome.status === 'timed_out') return { state: outcome.status, exitCode: null, error: outcome.error };
    const answer = await readOutputs(container);
    const checked = answer === undefined ? { outputs: {} } : checkOutputs(answer, declared, OUTPUTS_FILE);
    if ('error' in checked) return { state: 'failed', exitCode: outcome.exitCode, error: checked.error };
    if (outcome.status === 'failed')
      return { state: 'failed', exitCode: outcome.exitCode, outputs: checked.outputs, error: outcome.error ?? `exit code ${outcome.exitCode}` };
    return { state: 'succeeded', exitCode: outcome.exitCode, outputs: checked.outputs };
  } catch (error) {
    return { state: 'failed', error: `plugin container: ${errorMessage(error)}` };
  } finally {
    const removalError = await removeContainer(container);
    if (removalError) runtime.log(removalError);
  }
}
