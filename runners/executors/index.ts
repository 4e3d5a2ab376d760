import type { StepType } from '../../server/engine/schema/steps.ts';
import { artifactPull, artifactPush } from './artifacts.ts';
import { dockerBuild } from './docker-build.ts';
import { dockerPush } from './docker-push.ts';
import { dockerRun } from './docker-run.ts';
import { deploy } from './deploy.ts';
import { scanContainer, scanDeps, scanSast } from './scan.ts';
import { conditional, failStep, logMessage, setValues, validateContext } from './general.ts';
import { shellExec } from './shell.ts';
import type { StepExecutor } from './types.ts';

/**
 * Step types this runner can execute; the others fail with a clear message naming the type. Every built-in type
 * has one but step.gate, which the server decides between jobs.
 */
export const executors: Readonly<Record<string, StepExecutor>> = {
  'step.shell_exec': shellExec,
  'step.docker_build': dockerBuild,
  'step.docker_push': dockerPush,
  'step.docker_run': dockerRun,
  'step.deploy': deploy,
  'step.scan_sast': scanSast,
  'step.scan_container': scanContainer,
  'step.scan_deps': scanDeps,
  'step.artifact_push': artifactPush,
  'step.artifact_pull': artifactPull,
  'step.set': setValues,
  'step.log': logMessage,
  'step.fail': failStep,
  'step.validate': validateContext,
  'step.conditional': conditional,
} satisfies Record<Exclude<StepType, 'step.gate'>, StepExecutor>;
