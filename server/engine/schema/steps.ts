import { z } from 'zod';
import { anyCaseEnum, artifactKey, duration, envMap, identifier, networkMode, outputFormat, pullPolicy, semgrepSeverity, severity, size } from './common.ts';
import { deployProviders } from './modules.ts';

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
/** Upstream (GoCodeAlone/workflow) spellings: accepted, then rewritten to the canonical field by normalise.ts. */
const upstream = (canonical: string, schema: z.ZodType, what = '') => schema.optional().describe(`Upstream synonym of ${canonical}${what}.`);
const workspacePathText = z.string().min(1);
/** A number of instances, or (upstream) a percentage of the replicas, e.g. 25%. */
const instances = z.union([z.number().int().min(0), z.string().regex(/^\d{1,3}%$/, { message: 'expected a number of instances or a percentage such as 25%' })]);
const scanOutputs: Record<string, OutputDef> = {
  passed_gate: { description: 'true when no finding reaches the gate severity' },
  findings_count: { description: 'number of findings' },
  summary: { description: 'finding counts by severity', fields: ['critical', 'high', 'medium', 'low', 'info'] },
  sarif_key: { description: 'artifact key of the SARIF report' },
};

/**
 * The built-in step types by name, declared as one literal so that each name and config schema keeps its type
 * (StepType, StepConfig); `stepTypes` lists them for the code that takes any step type, plugins' included.
 */
const builtinStepTypes = {
  'step.shell_exec': {
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
  'step.artifact_push': {
    description: 'Upload a workspace file or folder as an artifact of this run.',
    config: z.strictObject({
      key: artifactKey,
      path: z.string().min(1).optional().describe('Path relative to /workspace (required, or source_path).'),
      store: moduleRef('artifact.store').optional(),
      source_path: upstream('path', workspacePathText, ' (a path under /workspace, absolute or relative)'),
      dest: upstream('store', z.string().min(1), ': artifact_store is the default store, any other value names an artifact.store module'),
    }),
    outputs: {
      key: { description: 'artifact key' },
      size: { description: 'size in bytes' },
      checksum: { description: 'SHA-256 of the content' },
    },
  },
  'step.artifact_pull': {
    description: 'Download an artifact of this run or of an earlier run into the workspace.',
    config: z.strictObject({
      key: artifactKey,
      dest: z.string().min(1).default('.').describe('Destination relative to /workspace.'),
      from_run: z
        .union([z.number().int().positive(), z.literal('latest_success')])
        .optional()
        .describe('Run number of this workflow to take it from, or latest_success; this run when omitted.'),
      store: moduleRef('artifact.store').optional(),
      source: z
        .enum(['previous_execution', 's3', 'url'])
        .optional()
        .describe('Upstream: where the artifact comes from; previous_execution and s3 read the artifact store, url is not supported.'),
      execution_id: upstream('from_run', z.union([z.number().int().positive(), z.string().min(1)]), ': a run number or latest_success'),
    }),
    outputs: {
      key: { description: 'artifact key' },
      size: { description: 'size in bytes' },
      checksum: { description: 'SHA-256 of the content' },
      path: { description: 'where it was written' },
    },
  },
  'step.docker_build': {
    description: 'Build a Docker image from a context folder in the workspace.',
    config: z.strictObject({
      context: z.string().default('.').describe('Build context relative to /workspace.'),
      dockerfile: z.string().default('Dockerfile').describe('Dockerfile path relative to the context.'),
      tags: z.array(z.string().min(1)).min(1).describe('Tags to give the image, e.g. app:{{ .Version }}.'),
      build_args: z
        .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
        .optional()
        .describe('Build arguments (ARG) by name; numbers and booleans are passed as their text.'),
      cache_from: z.array(z.string()).optional().describe('Images to use as cache sources.'),
      target: z.string().optional().describe('Multi-stage build target.'),
      pull_policy: pullPolicy.default('if_not_present'),
      network_mode: networkMode.default('none').describe('Network of RUN instructions: none (default), bridge (the run network) or host.'),
    }),
    outputs: {
      image_id: { description: 'ID of the built image' },
      tags: { description: 'tags given to the image' },
    },
  },
  'step.docker_push': {
    description: 'Push an image to a registry named by a docker.registry module.',
    config: z.strictObject({
      image: imageRef,
      registry: z
        .string()
        .min(1)
        .describe('Name of a docker.registry module, or (upstream) a registry host prefix such as 127.0.0.1:5000/team that is put before image.'),
      tags: z.array(z.string().min(1)).optional().describe('Extra tags to push; the image tag otherwise.'),
      auth_provider: identifier
        .optional()
        .describe('Upstream: the credentials to push with, here the name of a docker.registry module whose username and password_secret are used.'),
    }),
    outputs: {
      image: { description: 'pushed image reference' },
      digest: { description: 'manifest digest returned by the registry' },
    },
  },
  'step.docker_run': {
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
  'step.scan_sast': {
    description: 'Static analysis of the workspace source with Semgrep, reported as SARIF.',
    config: z.strictObject({
      scanner: anyCaseEnum(['semgrep']).default('semgrep'),
      scanner_image: imageRef.optional().describe('Scanner image; the scanner default otherwise.'),
      rules: z
        .union([z.string(), z.array(z.string()).min(1)])
        .default('.semgrep.yml')
        .describe('Semgrep rules file or folder in the workspace (registry packs such as auto need network access); upstream writes a list of one.'),
      paths: z.array(z.string()).default(['.']).describe('Paths under /workspace to scan.'),
      fail_on_severity: semgrepSeverity.default('high'),
      image: upstream('scanner_image', imageRef),
      source_path: upstream('paths', workspacePathText, ' (one path)'),
      output_format: outputFormat,
      artifacts_out: z
        .strictObject({ key: artifactKey })
        .optional()
        .describe('Upstream: the artifact key of the report; Flowyard stores it as sarif/<step name>.sarif (output sarif_key).'),
    }),
    outputs: scanOutputs,
  },
  'step.scan_container': {
    description: 'Scan a container image for vulnerabilities with Trivy, reported as SARIF.',
    config: z.strictObject({
      scanner: anyCaseEnum(['trivy']).default('trivy'),
      scanner_image: imageRef.optional(),
      target_image: imageRef.optional().describe('Image to scan (required, or image).'),
      severity_threshold: severity.default('high'),
      ignore_unfixed: z.boolean().default(false).describe('Ignore vulnerabilities without a fix.'),
      image: upstream('target_image', imageRef, ', used when target_image is absent'),
      output_format: outputFormat,
    }),
    outputs: scanOutputs,
  },
  'step.scan_deps': {
    description: 'Scan dependencies in the workspace with Grype, reported as SARIF.',
    config: z.strictObject({
      scanner: anyCaseEnum(['grype']).default('grype'),
      scanner_image: imageRef.optional(),
      path: z.string().default('.').describe('Path under /workspace to scan.'),
      fail_on_severity: severity.default('high'),
      ignore_unfixed: z.boolean().default(false),
      source_path: upstream('path', workspacePathText),
      output_format: outputFormat,
    }),
    outputs: scanOutputs,
  },
  'step.deploy': {
    description: 'Deploy an image to an environment with a rolling, blue-green or canary strategy.',
    config: z.strictObject({
      environment: identifier.describe('Environment name, e.g. staging or production.'),
      target: moduleRef('deploy.target').optional().describe('Name of a deploy.target module (required unless provider is given).'),
      image: imageRef,
      strategy: z.enum(['rolling', 'blue_green', 'canary']).default('rolling').describe('Deployment strategy.'),
      replicas: z.number().int().min(1).max(100).default(1),
      rolling: z
        .strictObject({
          max_surge: instances.default(1),
          max_unavailable: instances.default(0),
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
      provider: z.enum(deployProviders).optional().describe('Upstream: the provider to deploy with; it must be the provider of the target module.'),
    }),
    outputs: {
      deployment_id: { description: 'ID of the deployment' },
      image: { description: 'image that was deployed' },
      version: { description: 'deployed version' },
      status: { description: 'final status' },
      url: { description: 'where the deployment answers' },
    },
  },
  'step.gate': {
    description: 'Wait for an approval (or an automatic condition) before the steps after it run.',
    config: z.strictObject({
      type: anyCaseEnum(['manual', 'auto', 'scheduled'], { automated: 'auto' })
        .default('manual')
        .describe('manual waits for an approver; auto (upstream: automated) decides from conditions; scheduled is not implemented.'),
      approvers: z.array(z.string().min(1)).optional().describe('Users (email) or roles (role:admin) who may decide.'),
      timeout: duration.default('24h'),
      on_timeout: z.enum(['reject', 'approve']).default('reject'),
      auto_approve_conditions: z.array(z.string().min(1)).optional().describe('Expressions over earlier outputs, e.g. steps.scan.passed_gate == true.'),
      message: z.string().optional().describe('Shown to approvers.'),
    }),
    outputs: { gate_result: { description: 'the decision', fields: ['passed', 'type', 'reason'] } },
  },
  'step.set': {
    description: 'Set values in the pipeline context for later steps and templates.',
    config: z.strictObject({
      values: z.record(z.string(), z.unknown()).describe('Values by name; strings may use templates.'),
    }),
    outputs: {},
    dynamicOutputs: true,
  },
  'step.log': {
    description: 'Write a message to the run log.',
    config: z.strictObject({
      level: anyCaseEnum(['debug', 'info', 'warn', 'error']).default('info'),
      message: z.string().describe('Message; may use templates.'),
    }),
    outputs: {},
  },
  'step.validate': {
    description: 'Check the pipeline context: required fields or a JSON Schema.',
    config: z.strictObject({
      strategy: z.enum(['required_fields', 'json_schema']).default('required_fields'),
      required_fields: z.array(z.string().min(1)).optional(),
      schema: z.record(z.string(), z.unknown()).optional().describe('JSON Schema the context must satisfy.'),
    }),
    outputs: { valid: { description: 'true when the context passed' } },
  },
  'step.conditional': {
    description: 'Jump to a later step chosen by the value of a context field.',
    config: z.strictObject({
      field: z.string().min(1).describe('Context field whose value picks the route.'),
      routes: z.record(z.string(), identifier).describe('Value → name of the step to continue with.'),
      default: identifier.optional().describe('Step to continue with when no route matches.'),
    }),
    outputs: { route: { description: 'name of the step taken' } },
  },
  'step.fail': {
    description: 'Fail the run with a message.',
    config: z.strictObject({
      message: z.string().default('failed by step.fail'),
    }),
    outputs: {},
  },
} satisfies Record<string, Omit<StepTypeDef, 'type'>>;

/** The name of a built-in step type. */
export type StepType = keyof typeof builtinStepTypes;
/** A built-in step's config as its schema outputs it: defaults applied, upstream synonyms still optional. */
export type StepConfig<T extends StepType> = z.output<(typeof builtinStepTypes)[T]['config']>;

export const stepTypes: readonly StepTypeDef[] = Object.entries(builtinStepTypes).map(([type, def]) => ({ type, ...def }));
export const stepTypesByName: ReadonlyMap<string, StepTypeDef> = new Map(stepTypes.map((def) => [def.type, def]));

export const isStepType = (type: string): type is StepType => Object.hasOwn(builtinStepTypes, type);

/**
 * A step of a built workflow narrowed to one built-in type, with its config typed: the build parsed that config
 * with the type's schema (and normalise only renames and drops fields within it). Plugin steps never match,
 * since a plugin may not take a built-in name.
 */
export function isBuiltStep<T extends StepType, S extends { type: string; config: unknown }>(step: S, type: T): step is S & { type: T; config: StepConfig<T> } {
  return step.type === type;
}

/** The same record seen through a mapped type, so that a schema looked up by a generic name keeps its config type. */
const configSchemas: { readonly [T in StepType]: { config: z.ZodType<StepConfig<T>> } } = builtinStepTypes;

export type StepConfigResult<T extends StepType> = { ok: true; config: StepConfig<T> } | { ok: false; error: string };

/** `canary.steps.0.weight` → `config.canary.steps[0].weight`, the way template errors name a field. */
const fieldPath = (path: readonly PropertyKey[]) =>
  path.reduce<string>((at, key) => (typeof key === 'number' ? `${at}[${key}]` : `${at}.${String(key)}`), 'config');

/**
 * Checks a config (with its templates resolved) against its step type's schema and applies the defaults; on a
 * refusal, one message naming each bad field, e.g. `step.deploy: config.replicas: Invalid input: expected number, received string`.
 */
export function parseStepConfig<T extends StepType>(type: T, raw: unknown): StepConfigResult<T> {
  const parsed = configSchemas[type].config.safeParse(raw);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, error: `${type}: ${parsed.error.issues.map((issue) => `${fieldPath(issue.path)}: ${issue.message}`).join('; ')}` };
}
