/**
 * One `step.artifact_push` in its own process, as a runner would do it, for the artifact bench's memory figure.
 * Usage: artifact-push-process.ts <apiUrl> <runnerToken> <jobId> <volume> <key>. Prints `{"ms":…,"peakRssMiB":…,"rssBeforeMiB":…,"size":…}`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunnerApi } from '../../runners/daemon/client.ts';
import { httpArtifacts } from '../../runners/daemon/http-artifacts.ts';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { artifactPush } from '../../runners/executors/artifacts.ts';
import type { StepRuntime } from '../../runners/executors/types.ts';

const [apiUrl, token, jobId, volume, key] = process.argv.slice(2) as [string, string, string, string, string];
const tempDir = mkdtempSync(join(tmpdir(), 'flowyard-bench-push-'));
const runtime = {
  step: { index: 0, name: 'push' },
  config: { key, path: '.' },
  docker: createDockerClient(),
  workspaceVolume: volume,
  helperImage: 'flowyard/busybox:latest',
  tempDir,
  artifacts: httpArtifacts(new RunnerApi(apiUrl, token), jobId),
  log: () => {},
  output: () => {},
  signal: new AbortController().signal,
} as unknown as StepRuntime;
// Peak RSS from here on: what the push costs, not the start-up (tsx compiling the sources).
const rssBeforeMiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
writeFileSync('/proc/self/clear_refs', '5');
const started = performance.now();
const result = await artifactPush(runtime);
const ms = performance.now() - started;
rmSync(tempDir, { recursive: true, force: true });
if (result.state !== 'succeeded') throw new Error(`push failed: ${result.error}`);
const peakKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
console.log(JSON.stringify({ ms, peakRssMiB: peakKb / 1024, rssBeforeMiB, size: result.outputs?.size }));
