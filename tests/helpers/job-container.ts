// Whole jobs on the real engine for the job-container tests: shell steps given briefly, the run's logs and
// reports, and how many containers the engine created for the run (from its event log).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeJob } from '../../runners/job/execute.ts';
import { localArtifacts } from '../../runners/local/local-artifacts.ts';
import type { JobResult, JobSpec, StepReport, StepSpec } from '../../runners/protocol/v1.ts';
import { BASE_IMAGE, docker, removeRunLeftovers } from './isolation.ts';
import { testJobSpec } from './job-spec.ts';

const runIds: string[] = [];
let artifactsDir = '';

/** Removes what the runs of this file left (containers, networks) and the artifacts folder. */
export async function cleanUpJobs(): Promise<void> {
  await removeRunLeftovers(runIds);
  if (artifactsDir) await rm(artifactsDir, { recursive: true, force: true });
}

export const isOurRun = (runId: string | undefined) => runIds.includes(runId ?? '');

export interface Shell {
  commands: string[];
  image?: string;
  env?: Record<string, string>;
  memory_limit?: string;
  timeoutMs?: number;
  continueOnError?: boolean;
}

export const shell = (step: Shell) => step;

function toSteps(list: Array<Shell | StepSpec>): StepSpec[] {
  return list.map((item, index) => {
    if ('type' in item) return { ...item, index };
    const { timeoutMs, continueOnError, image, ...config } = item;
    return {
      index,
      name: `s${index}`,
      type: 'step.shell_exec',
      config: { image: image ?? BASE_IMAGE, ...config },
      timeoutMs: timeoutMs ?? 60_000,
      continueOnError: continueOnError ?? false,
    };
  });
}

export interface Job {
  runId: string;
  result: JobResult;
  reports: Map<number, StepReport>;
  log(index: number): string;
  /** Containers the engine created for the run, counted from its event log. */
  created(): Promise<number>;
  finishedMs: number;
}

export async function runJob(list: Array<Shell | StepSpec>, options: { secrets?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Job> {
  artifactsDir ||= await mkdtemp(join(tmpdir(), 'flowyard-job-container-'));
  const runId = `jc-${randomUUID().slice(0, 8)}`;
  runIds.push(runId);
  const since = Math.floor(Date.now() / 1000) - 1;
  const reports = new Map<number, StepReport>();
  const logs = new Map<number, string>();
  const job: JobSpec = testJobSpec({ runId, workflow: 'job-container', pipeline: 'main', steps: toSteps(list), secrets: options.secrets ?? {} });
  const result = await executeJob(job, {
    docker,
    reporter: {
      chunk: (index, _seq, text) => logs.set(index, (logs.get(index) ?? '') + text),
      step: (index, report) => reports.set(index, { ...reports.get(index), ...report }),
    },
    artifacts: localArtifacts(artifactsDir),
    signal: options.signal ?? new AbortController().signal,
  });
  const finishedMs = Date.now();
  return {
    runId,
    result,
    reports,
    finishedMs,
    log: (index) => logs.get(index) ?? '',
    created: () => containersCreated(runId, since),
  };
}

export async function containersCreated(runId: string, since: number): Promise<number> {
  const until = Math.ceil(Date.now() / 1000) + 1;
  const stream = (await docker.getEvents({
    since,
    until,
    filters: { type: ['container'], event: ['create'], label: [`flowyard.run=${runId}`] },
  })) as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text.split('\n').filter((line) => line.trim()).length;
}

export async function containersLeft(runId: string): Promise<number> {
  return (await docker.listContainers({ all: true, filters: { label: [`flowyard.run=${runId}`] } })).length;
}
