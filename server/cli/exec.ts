import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDockerClient, describeDockerHost, pingDocker } from '../../runners/docker/engine.ts';
import { executeJob, type JobReporter } from '../../runners/job/execute.ts';
import { localArtifacts } from '../../runners/local/local-artifacts.ts';
import { buildWorkflow } from '../engine/build.ts';
import { jobSpecFor, resolveInputs } from '../services/run-spec.ts';
import { formatDiagnostic } from './validate.ts';

function keyValues(list: string[] | undefined, flag: string, env: NodeJS.ProcessEnv, fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1);
    else if (fromEnv && env[item] !== undefined) out[item] = env[item]!;
    else throw new Error(`${flag} "${item}": expected NAME=VALUE${fromEnv ? ' or the name of a set environment variable' : ''}`);
  }
  return out;
}

const STATE_MARK: Record<string, string> = { succeeded: '\x1b[32m✔\x1b[0m', failed: '\x1b[31m✘\x1b[0m', skipped: '\x1b[90m–\x1b[0m', cancelled: '\x1b[33m■\x1b[0m', timed_out: '\x1b[31m⏱\x1b[0m' };

/** `flowyard exec FILE`: runs a pipeline on this machine's Docker engine with the runner's executors, no server. */
export async function runExec(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { pipeline: { type: 'string' }, input: { type: 'string', multiple: true }, secret: { type: 'string', multiple: true } },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    process.stderr.write('usage: flowyard exec FILE [--pipeline NAME] [--input k=v]... [--secret NAME[=VALUE]]...\n');
    return 2;
  }
  const build = buildWorkflow(await readFile(file));
  if (!build.ok) {
    for (const d of build.diagnostics) process.stderr.write(`${formatDiagnostic(file, d)}\n`);
    return 1;
  }
  const names = Object.keys(build.workflow.pipelines);
  const pipelineName = values.pipeline ?? (names.length === 1 ? names[0] : undefined);
  if (!pipelineName || !build.workflow.pipelines[pipelineName]) {
    process.stderr.write(`flowyard exec: choose a pipeline with --pipeline (one of ${names.join(', ')})\n`);
    return 2;
  }
  const docker = createDockerClient();
  if (!(await pingDocker(docker))) {
    process.stderr.write(`flowyard exec: no Docker engine answers at ${describeDockerHost()}\n`);
    return 1;
  }
  const pipeline = build.workflow.pipelines[pipelineName]!;
  const plan = build.plan.pipelines.find((p) => p.name === pipelineName)!;
  const runId = `local-${Date.now().toString(36)}`;
  const job = jobSpecFor(build.workflow, plan, {
    jobId: runId,
    jobIndex: 'all',
    runId,
    runNumber: 0,
    pipelineName,
    inputs: resolveInputs(pipeline, keyValues(values.input, '--input', process.env, false)),
    trigger: { type: 'manual' },
    secrets: keyValues(values.secret, '--secret', process.env, true),
    leaseMs: 30_000,
  });
  const stepName = new Map([...job.steps, ...job.compensation].map((s) => [s.index, s.name]));
  const reporter: JobReporter = {
    chunk: (_index, _seq, text) => process.stdout.write(text),
    step: (index, report) => {
      if (report.state === 'running') process.stdout.write(`\x1b[1m▶ ${stepName.get(index)}\x1b[0m\n`);
      else if (report.state !== 'pending') process.stdout.write(`${STATE_MARK[report.state] ?? ''} ${stepName.get(index)} ${report.state}${report.error && report.state !== 'succeeded' ? `: ${report.error}` : ''}\n`);
    },
  };
  const artifactsDir = await mkdtemp(join(tmpdir(), 'flowyard-exec-'));
  const controller = new AbortController();
  const cancel = () => controller.abort('cancelled');
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  try {
    const result = await executeJob(job, { docker, reporter, artifacts: localArtifacts(artifactsDir), signal: controller.signal });
    process.stdout.write(`\n${pipelineName}: ${result.state}${result.error ? ` (${result.error})` : ''}\n`);
    return result.state === 'succeeded' ? 0 : 1;
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
    await rm(artifactsDir, { recursive: true, force: true });
  }
}
