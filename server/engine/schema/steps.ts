import { z } from 'zod';
import { artifactKey, duration, envMap, identifier, networkMode, pullPolicy, severity, size } from './common.ts';

/** A declared output; `fields` lists the keys of an object-valued output. */
export interface OutputDef {
  description: string;
  fields?: readonly string[];
}

export interface StepTypeDef {
  type: string;
  description: string;
  config: z.ZodObject;
  outputs: Readonly<Record<string, OutputDef>>;
  /** Outputs also include the keys of `config.values` (step.set). */
  dynamicOutputs?: boolean;
}

const imageRef = z.string().min(1).describe('Image reference, e.g. local/busybox:latest.');
const moduleRef = (type: string) => identifier.describe(`Name of a ${type} module.`);
const scanOutputs: Record<string, OutputDef> = {
  passed_gate: { description: 'true when no finding reaches the gate severity' },
  findings_count: { description: 'number of findings' },
  summary: { description: 'finding counts by severity', fields: ['critical', 'high', 'medium', 'low', 'info'] },
  sarif_key: { description: 'artifact key of the SARIF report' },
};

export const stepTypes: readonly StepTypeDef[] = [
  {
    type: 'step.shell_exec',
    description: 'Run shell commands in a container with the workspace mounted at /workspace.',
    config: z.strictObject({
      image: imageRef,
      commands: z.array(z.string()).min(1).describe('Commands run as one script; the step stops at the first failing command.'),
      work_dir: z.string().default('/workspace').describe('Working directory inside the container.'),
      env: envMap.optional(),
      timeout: duration.optional().describe('Kill the container after this long, e.g. 300s.'),
      memory_limit: size.optional().describe('Memory limit, e.g. 512m.'),
      cpu_limit: z.number().positive().max(256).optional().describe('CPU limit in cores, e.g. 0.5 or 2.'),
      network_mode: networkMode.default('none'),
      pull_policy: pullPolicy.default('if_not_present'),
      artifacts_out: z
        .array(z.strictObject({ key: artifactKey, path: z.string().min(1).describe('Path in the container, usually under /workspace.') }))
        .optional()
        .describe('Files or folders uploaded as artifacts after the commands succeed.'),
    }),
    outputs: {
      exit_code: { description: 'exit code of the script' },
      artifacts: { description: 'keys of the uploaded artifacts' },
    },
  },
  {
    type: 'step.artifact_push',
    description: 'Upload a workspace file or folder as an artifact of this run.',
    config: z.strictObject({
      key: artifactKey,
      path: z.string().min(1).describe('Path relative to /workspace.'),
      store: moduleRef('artifact.store').optional(),
    }),
    outputs: {
      key: { description: 'artifact key' },
      size: { description: 'size in bytes' },
      checksum: { description: 'SHA-256 of the content' },
    },
  },
  {
    type: 'step.artifact_pull',
    description: 'Download an artifact of this run or of an earlier run into the workspace.',
    config: z.strictObject({
      key: artifactKey,
      dest: z.string().min(1).default('.').describe('Destination relative to /workspace.'),
      from_run: z
        .union([z.number().int().positive(), z.literal('latest_success')])
        .optional()
        .describe('Run number of this workflow to take it from, or latest_success; this run when omitted.'),
      store: moduleRef('artifact.store').optional(),
    }),
    outputs: {
      key: { description: 'artifact key' },
      size: { description: 'size in bytes' },
      checksum: { description: 'SHA-256 of the content' },
      path: { description: 'where it was written' },
    },
  },
  {
    type: 'step.docker_build',
    description: 'Build a Docker image from a context folder in the workspace.',
    config: z.strictObject({
      context: z.string().default('.').describe('Build context relative to /workspace.'),
      dockerfile: z.string().default('Dockerfile').describe('Dockerfile path relative to the context.'),
      tags: z.array(z.string().min(1)).min(1).describe('Tags to give the image, e.g. app:{{ .Version }}.'),
      build_args: z.record(z.string(), z.string()).optional().describe('Build arguments (ARG) by name.'),
      cache_from: z.array(z.string()).optional().describe('Images to use as cache sources.'),
      target: z.string().optional().describe('Multi-stage build target.'),
      pull_policy: pullPolicy.default('if_not_present'),
    }),
    outputs: {
      image_id: { description: 'ID of the built image' },
      tags: { description: 'tags given to the image' },
    },
  },
  {
    type: 'step.docker_push',
    description: 'Push an image to a registry named by a docker.registry module.',
    config: z.strictObject({
      image: imageRef,
      registry: moduleRef('docker.registry'),
      tags: z.array(z.string().min(1)).optional().describe('Extra tags to push; the image tag otherwise.'),
    }),
    outputs: {
      image: { description: 'pushed image reference' },
      digest: { description: 'manifest digest returned by the registry' },
    },
  },
  {
    type: 'step.docker_run',
    description: 'Run a container from an image, optionally waiting for it to exit.',
    config: z.strictObject({
      image: imageRef,
      command: z.array(z.string()).optional().describe('Command and arguments; the image default otherwise.'),
      env: envMap.optional(),
      wait_for_exit: z.boolean().default(true).describe('Wait for the container to exit and fail on a non-zero code.'),
      timeout: duration.optional(),
      network_mode: networkMode.default('none'),
      pull_policy: pullPolicy.default('if_not_present'),
    }),
    outputs: {
      container_id: { description: 'ID of the container' },
      exit_code: { description: 'exit code when waited for' },
    },
  },
  {
    type: 'step.scan_sast',
    description: 'Static analysis of the workspace source with Semgrep, reported as SARIF.',
    config: z.strictObject({
      scanner: z.enum(['semgrep']).default('semgrep'),
      scanner_image: imageRef.optional().describe('Scanner image; the scanner default otherwise.'),
      rules: z.string().default('.semgrep.yml').describe('Semgrep rules file in the workspace (registry packs such as auto need network access).'),
      paths: z.array(z.string()).default(['.']).describe('Paths under /workspace to scan.'),
      fail_on_severity: severity.default('high'),
    }),
    outputs: scanOutputs,
  },
  {
    type: 'step.scan_container',
    description: 'Scan a container image for vulnerabilities with Trivy, reported as SARIF.',
    config: z.strictObject({
      scanner: z.enum(['trivy']).default('trivy'),
      scanner_image: imageRef.optional(),
      target_image: imageRef.describe('Image to scan.'),
      severity_threshold: severity.default('high'),
      ignore_unfixed: z.boolean().default(false).describe('Ignore vulnerabilities without a fix.'),
    }),
    outputs: scanOutputs,
  },
  {
    type: 'step.scan_deps',
    description: 'Scan dependencies in the workspace with Grype, reported as SARIF.',
    config: z.strictObject({
      scanner: z.enum(['grype']).default('grype'),
      scanner_image: imageRef.optional(),
      path: z.string().default('.').describe('Path under /workspace to scan.'),
      fail_on_severity: severity.default('high'),
      ignore_unfixed: z.boolean().default(false),
    }),
    outputs: scanOutputs,
  },
  {
    type: 'step.deploy',
    description: 'Deploy an image to an environment with a rolling, blue-green or canary strategy.',
    config: z.strictObject({
      environment: identifier.describe('Environment name, e.g. staging or production.'),
      target: moduleRef('deploy.target'),
      image: imageRef,
      strategy: z.enum(['rolling', 'blue_green', 'canary']).default('rolling').describe('Deployment strategy.'),
      replicas: z.number().int().min(1).max(100).default(1),
      rolling: z
        .strictObject({
          max_surge: z.number().int().min(0).default(1),
          max_unavailable: z.number().int().min(0).default(0),
        })
        .optional()
        .describe('Rolling update limits.'),
      canary: z
        .strictObject({
          steps: z
            .array(z.strictObject({ weight: z.number().int().min(1).max(100), pause: duration.optional() }))
            .min(1)
            .describe('Traffic weights in percent, each held for its pause.'),
        })
        .optional(),
      health_check: z
        .strictObject({
          path: z.string().default('/healthz'),
          port: z.number().int().min(1).max(65535).optional(),
          interval: duration.default('5s'),
          timeout: duration.default('2s'),
          healthy_threshold: z.number().int().min(1).default(1),
        })
        .optional()
        .describe('HTTP health check that a new version must pass.'),
      rollback_on_failure: z.boolean().default(true).describe('Return to the previous version when the deploy fails.'),
    }),
    outputs: {
      deployment_id: { description: 'ID of the deployment' },
      image: { description: 'image that was deployed' },
      version: { description: 'deployed version' },
      status: { description: 'final status' },
      url: { description: 'where the deployment answers' },
    },
  },
  {
    type: 'step.gate',
    description: 'Wait for an approval (or an automatic condition) before the steps after it run.',
    config: z.strictObject({
      type: z.enum(['manual', 'auto']).default('manual').describe('manual waits for an approver; auto decides from conditions.'),
      approvers: z.array(z.string().min(1)).optional().describe('Users (email) or roles (role:admin) who may decide.'),
      timeout: duration.default('24h'),
      on_timeout: z.enum(['reject', 'approve']).default('reject'),
      auto_approve_conditions: z
        .array(z.string().min(1))
        .optional()
        .describe('Expressions over earlier outputs, e.g. steps.scan.passed_gate == true.'),
      message: z.string().optional().describe('Shown to approvers.'),
    }),
    outputs: { gate_result: { description: 'the decision', fields: ['passed', 'type', 'reason'] } },
  },
  {
    type: 'step.set',
    description: 'Set values in the pipeline context for later steps and templates.',
    config: z.strictObject({
      values: z.record(z.string(), z.unknown()).describe('Values by name; strings may use templates.'),
    }),
    outputs: {},
    dynamicOutputs: true,
  },
  {
    type: 'step.log',
    description: 'Write a message to the run log.',
    config: z.strictObject({
      level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
      message: z.string().describe('Message; may use templates.'),
    }),
    outputs: {},
  },
  {
    type: 'step.validate',
    description: 'Check the pipeline context: required fields or a JSON Schema.',
    config: z.strictObject({
      strategy: z.enum(['required_fields', 'json_schema']).default('required_fields'),
      required_fields: z.array(z.string().min(1)).optional(),
      schema: z.record(z.string(), z.unknown()).optional().describe('JSON Schema the context must satisfy.'),
    }),
    outputs: { valid: { description: 'true when the context passed' } },
  },
  {
    type: 'step.conditional',
    description: 'Jump to a later step chosen by the value of a context field.',
    config: z.strictObject({
      field: z.string().min(1).describe('Context field whose value picks the route.'),
      routes: z.record(z.string(), identifier).describe('Value → name of the step to continue with.'),
      default: identifier.optional().describe('Step to continue with when no route matches.'),
    }),
    outputs: { route: { description: 'name of the step taken' } },
  },
  {
    type: 'step.fail',
    description: 'Fail the run with a message.',
    config: z.strictObject({
      message: z.string().default('failed by step.fail'),
    }),
    outputs: {},
  },
];

export const stepTypesByName: ReadonlyMap<string, StepTypeDef> = new Map(stepTypes.map((def) => [def.type, def]));
