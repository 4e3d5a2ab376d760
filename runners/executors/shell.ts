import { join } from 'node:path';
import { parseSize } from '../../server/engine/schema/common.ts';
import { exportFromWorkspace } from '../docker/archive.ts';
import { runShellStep, type ShellExecSpec } from '../docker/shell-exec.ts';
import { stringEnv, withConfig } from './config.ts';
import { policyOf, refusal, stepImage, stepNetwork } from './isolation.ts';
import type { StepRuntime } from './types.ts';

async function uploadArtifacts(runtime: StepRuntime, image: string, list: Array<{ key: string; path: string }>) {
  const uploaded: string[] = [];
  for (const [i, artifact] of list.entries()) {
    const tarFile = join(runtime.tempDir, `artifact-${runtime.step.index}-${i}.tar`);
    await exportFromWorkspace(runtime.docker, image, runtime.workspaceVolume, artifact.path, tarFile);
    const stored = await runtime.artifacts.upload(artifact.key, tarFile);
    runtime.log(`uploaded artifact ${stored.key} (${stored.size} bytes, sha256 ${stored.sha256.slice(0, 12)}…)`);
    uploaded.push(stored.key);
  }
  return uploaded;
}

export const shellExec = withConfig('step.shell_exec', async (runtime, config) => {
  let image: string;
  let networkMode: string;
  try {
    networkMode = await stepNetwork(runtime, config.network_mode);
    image = (await stepImage(runtime, config.image, config.pull_policy)).id;
  } catch (error) {
    return refusal(error);
  }
  const spec: ShellExecSpec = {
    image,
    commands: config.commands,
    workDir: config.work_dir,
    env: { ...runtime.env, ...stringEnv(config.env) },
    timeoutMs: runtime.step.timeoutMs ?? undefined,
    memoryBytes: config.memory_limit === undefined ? undefined : (parseSize(config.memory_limit) ?? undefined),
    nanoCpus: config.cpu_limit === undefined ? undefined : Math.round(config.cpu_limit * 1e9),
    networkMode,
    // Resolved to an ID above: nothing to pull, and no tag that could change meanwhile.
    pullPolicy: 'never',
    policy: policyOf(runtime),
    workspaceVolume: runtime.workspaceVolume,
    labels: { ...runtime.jobLabels, 'flowyard.run': runtime.job.runId, 'flowyard.step': runtime.step.name },
  };
  const io = { onOutput: (chunk: Uint8Array) => runtime.output(chunk), signal: runtime.signal };
  const outcome = runtime.jobContainers ? await runtime.jobContainers.runStep(spec, io) : await runShellStep(runtime.docker, spec, io);
  if (outcome.status !== 'succeeded') {
    return {
      state: outcome.status,
      exitCode: outcome.exitCode,
      error: outcome.error ?? `exit code ${outcome.exitCode}`,
      outputs: { exit_code: outcome.exitCode },
    };
  }
  const artifacts = await uploadArtifacts(runtime, image, config.artifacts_out ?? []);
  return { state: 'succeeded', exitCode: outcome.exitCode, outputs: { exit_code: outcome.exitCode, artifacts } };
});
