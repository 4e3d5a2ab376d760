import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createDockerClient, describeDockerHost, pingDocker } from '../../runners/docker/engine.ts';
import { executeJob, type JobReporter } from '../../runners/job/execute.ts';
import { localArtifacts } from '../../runners/local/local-artifacts.ts';
import type { JobResult } from '../../runners/protocol/v1.ts';
import { buildWorkflow } from '../engine/build.ts';
import { isBuiltStep } from '../engine/schema/steps.ts';
import { renderString } from '../engine/templates/index.ts';
import { jobSpecFor, resolveInputs } from '../services/run-spec.ts';
import { colourEnabled, painter, stripColour } from './colour.ts';
import { decideGate, type GatePolicy, type LocalGateConfig } from './exec-gates.ts';
import { formatDiagnostic } from './validate.ts';

const USAGE =
  'usage: flowyard exec FILE [--pipeline NAME] [--input k=v]... [--secret NAME[=VALUE]]... [--event webhook --payload FILE] [--approve-gates | --reject-gates]\n';
/** Kept artifacts of local runs, under the current folder, one folder per run. */
const LOCAL_ARTIFACTS_DIR = join('.flowyard', 'artifacts');
const WORKSPACE_KEYS_DIR = '_workspace';

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

/** The trigger data a run sees: manual, or a webhook delivery's JSON body as the server would pass it. */
async function triggerFor(event: string, payloadFile: string | undefined): Promise<Record<string, unknown>> {
  if (event === 'manual') {
    if (payloadFile) throw new Error('--payload goes with --event webhook');
    return { type: 'manual' };
  }
  if (event !== 'webhook') throw new Error(`--event "${event}": expected manual or webhook`);
  if (!payloadFile) return { type: 'http' };
  const text = await readFile(payloadFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`--payload ${payloadFile}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw new Error(`--payload ${payloadFile}: not JSON (${(error as Error).message})`);
  }
  const payload = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { body: parsed };
  return { ...payload, type: payload.type ?? 'http' };
}

function renderOrKeep(text: string, data: Record<string, unknown>): string {
  try {
    return renderString(text, data);
  } catch {
    return text;
  }
}

async function keptFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** `flowyard exec FILE`: runs a pipeline on this machine's Docker engine with the runner's executors, no server. */
export async function runExec(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      pipeline: { type: 'string' },
      input: { type: 'string', multiple: true },
      secret: { type: 'string', multiple: true },
      event: { type: 'string', default: 'manual' },
      payload: { type: 'string' },
      'approve-gates': { type: 'boolean', default: false },
      'reject-gates': { type: 'boolean', default: false },
    },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (values['approve-gates'] && values['reject-gates']) throw new Error('--approve-gates and --reject-gates exclude each other');
  const gatePolicy: GatePolicy = values['approve-gates'] ? 'approve' : values['reject-gates'] ? 'reject' : 'ask';
  const trigger = await triggerFor(values.event, values.payload);
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
  const pipeline = build.workflow.pipelines[pipelineName]!;
  const plan = build.plan.pipelines.find((p) => p.name === pipelineName)!;
  if (values.event === 'webhook' && !plan.triggers.some((t) => t.type === 'http')) {
    throw new Error(`--event webhook: pipeline ${pipelineName} has no http trigger`);
  }
  const inputs = resolveInputs(pipeline, keyValues(values.input, '--input', process.env, false));
  const secrets = keyValues(values.secret, '--secret', process.env, true);
  const docker = createDockerClient();
  if (!(await pingDocker(docker))) {
    process.stderr.write(`flowyard exec: no Docker engine answers at ${describeDockerHost()}\n`);
    return 1;
  }

  const colour = colourEnabled(process.stdout);
  const paint = painter(colour);
  const mark: Record<string, string> = {
    succeeded: paint('32', '✔'),
    failed: paint('31', '✘'),
    skipped: paint('90', '–'),
    cancelled: paint('33', '■'),
    timed_out: paint('31', '⏱'),
  };
  const allSteps = [...pipeline.steps, ...(pipeline.compensation ?? [])];
  const stepName = (index: number) => allSteps[index]?.name ?? `#${index}`;
  // Step outputs by name, as the next job and gate conditions read them.
  const outputs: Record<string, Record<string, unknown>> = {};
  const states: Record<string, string> = {};
  const context: Record<string, unknown> = {};
  const reporter: JobReporter = {
    chunk: (_index, _seq, text) => process.stdout.write(colour ? text : stripColour(text)),
    step: (index, report) => {
      const name = stepName(index);
      if (report.state === 'running') process.stdout.write(`${paint('1', `▶ ${name}`)}\n`);
      else if (report.state !== 'pending') {
        process.stdout.write(`${mark[report.state] ?? ''} ${name} ${report.state}${report.error && report.state !== 'succeeded' ? `: ${report.error}` : ''}\n`);
        outputs[name] = report.outputs ?? {};
        states[name] = report.state;
        if (allSteps[index]?.type === 'step.set') Object.assign(context, report.outputs ?? {});
      }
    },
  };

  const runId = `local-${Date.now().toString(36)}`;
  const artifactsDir = resolve(LOCAL_ARTIFACTS_DIR, runId);
  await mkdir(artifactsDir, { recursive: true });
  const controller = new AbortController();
  const cancel = () => controller.abort('cancelled');
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  let result: JobResult = { state: 'succeeded' };
  try {
    for (let jobIndex = 0; jobIndex < plan.jobs && result.state === 'succeeded'; jobIndex++) {
      const job = jobSpecFor(build.workflow, plan, {
        jobId: `${runId}-${jobIndex}`,
        jobIndex,
        runId,
        runNumber: 0,
        pipelineName,
        inputs,
        trigger,
        secrets,
        leaseMs: 30_000,
        priorOutputs: { ...outputs },
        priorContext: { ...context },
      });
      result = await executeJob(job, { docker, reporter, artifacts: localArtifacts(artifactsDir), signal: controller.signal });
      if (result.state !== 'succeeded') break;
      for (const gate of plan.steps.filter((s) => s.job === jobIndex && s.type === 'step.gate')) {
        const seen = Object.fromEntries(Object.entries(outputs).map(([name, out]) => [name, { ...out, state: states[name] }]));
        const gateStep = allSteps.find((s) => s.name === gate.name);
        const config: LocalGateConfig = gateStep && isBuiltStep(gateStep, 'step.gate') ? { ...gateStep.config } : {};
        if (config.message) config.message = renderOrKeep(config.message, { ...context, steps: seen, trigger, Inputs: inputs, Version: job.version ?? '' });
        process.stdout.write(`${paint('1', `⏸ ${gate.name}`)}\n`);
        const decision = await decideGate(gate.name, config, seen, gatePolicy, {
          input: process.stdin,
          output: process.stdout,
          signal: controller.signal,
        }).catch((error: Error) => error);
        if (decision instanceof Error) {
          result = { state: 'failed', error: decision.message };
          break;
        }
        if (controller.signal.aborted) {
          result = { state: 'cancelled', error: `cancelled at gate ${gate.name}` };
          break;
        }
        outputs[gate.name] = { gate_result: decision };
        states[gate.name] = decision.passed ? 'succeeded' : 'failed';
        process.stdout.write(
          `${decision.passed ? mark.succeeded : mark.failed} ${gate.name} ${decision.passed ? 'approved' : 'rejected'}: ${decision.reason}\n`,
        );
        if (!decision.passed) {
          result = { state: 'failed', error: `gate ${gate.name} rejected: ${decision.reason}` };
          break;
        }
      }
    }
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
    await rm(join(artifactsDir, WORKSPACE_KEYS_DIR), { recursive: true, force: true });
  }
  const kept = await keptFiles(artifactsDir);
  if (kept.length > 0) process.stdout.write(`\nartifacts kept in ${relative(process.cwd(), artifactsDir) || '.'}/: ${kept.join(', ')}\n`);
  else await rm(artifactsDir, { recursive: true, force: true });
  process.stdout.write(`\n${pipelineName}: ${result.state}${result.error ? ` (${result.error})` : ''}\n`);
  return result.state === 'succeeded' ? 0 : 1;
}
