import type { Diagnostic, PathSegment } from './diagnostics.ts';
import { diagnosticAt } from './locate.ts';
import type { Step, Workflow, WorkflowModule } from './schema/workflow.ts';
import type { SourceDocument } from './source.ts';

/**
 * Rewrites the upstream (GoCodeAlone/workflow) spellings the schema accepts into Flowyard's canonical fields,
 * so the runner executors and the server see one name per meaning. Runs on the schema's output; `raw` is the
 * config as written, to tell a field the user set from a default.
 */
type Config = Record<string, unknown>;

interface Problem {
  field: string;
  message: string;
  code?: string;
  severity?: 'error' | 'warning';
  anchor?: 'key' | 'value';
}

interface StepContext {
  config: Config;
  raw: Config;
  modules: Map<string, WorkflowModule>;
  /** Adds a module the upstream spelling implies (a registry given as a host); returns its name. */
  addModule(module: Omit<WorkflowModule, 'name'>, preferredName: string): string;
}

type Normaliser = (context: StepContext) => Problem[];

/** Moves `from` to `to`; writing both is an error, since they mean the same thing. */
function rename({ config, raw }: StepContext, from: string, to: string, convert: (value: unknown) => unknown = (v) => v): Problem[] {
  if (config[from] === undefined) return [];
  const value = config[from];
  delete config[from];
  if (raw[to] !== undefined)
    return [{ field: from, message: `"${from}" is the upstream name of "${to}"; give only one of them`, code: 'duplicate_field', anchor: 'key' }];
  config[to] = convert(value);
  return [];
}

function requireOneOf({ config }: StepContext, canonical: string, synonym: string): Problem[] {
  if (config[canonical] !== undefined) return [];
  return [{ field: '', message: `missing required field "${canonical}" (upstream: "${synonym}")`, code: 'missing_field', anchor: 'key' }];
}

const dropOutputFormat = ({ config }: StepContext): Problem[] => {
  delete config.output_format;
  return [];
};

const registryHost = (module: WorkflowModule) =>
  String(module.config.url ?? '')
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/+$/, '');

/** Registry hosts contain a dot or a port, or are localhost; module names are plain identifiers. */
const looksLikeHost = (value: string) => /^[^/]*[.:]/.test(value) || /^localhost(\/|$)/.test(value);

const NORMALISERS: Record<string, Normaliser> = {
  'step.scan_sast': (context) => {
    const problems = [...rename(context, 'image', 'scanner_image'), ...rename(context, 'source_path', 'paths', (path) => [path]), ...dropOutputFormat(context)];
    const { config } = context;
    if (Array.isArray(config.rules) && config.rules.length === 1) config.rules = config.rules[0];
    const rules = Array.isArray(config.rules) ? (config.rules as string[]) : [String(config.rules)];
    if (rules.length > 1) {
      problems.push({
        field: 'rules',
        severity: 'warning',
        code: 'unsupported_value',
        message:
          'the runner gives Semgrep one rules file or folder, so this step fails when it runs; put these rules in one folder of the workspace and name it',
      });
    }
    const registryPacks = rules.filter((rule) => rule === 'auto' || /^(p|r|s)\//.test(rule) || /^https?:\/\//.test(rule));
    if (registryPacks.length > 0) {
      problems.push({
        field: 'rules',
        severity: 'warning',
        code: 'unsupported_value',
        message: `${registryPacks.join(', ')} come${registryPacks.length > 1 ? '' : 's'} from the Semgrep registry, which scanner containers cannot reach (they run without network), so this step fails when it runs; use rules in the workspace or in scanner_image (docs/scans.md)`,
      });
    }
    if (config.artifacts_out !== undefined) {
      problems.push({
        field: 'artifacts_out',
        severity: 'warning',
        code: 'ignored_field',
        anchor: 'key',
        message: 'the SARIF report is stored as the artifact sarif/<step name>.sarif (output sarif_key), not under artifacts_out.key',
      });
      delete config.artifacts_out;
    }
    return problems;
  },
  'step.scan_container': (context) => {
    const problems = dropOutputFormat(context);
    if (context.config.image !== undefined && context.raw.target_image !== undefined) {
      problems.push({ field: 'image', message: '"image" is ignored when "target_image" is set', code: 'ignored_field', severity: 'warning', anchor: 'key' });
      delete context.config.image;
    }
    return [...problems, ...rename(context, 'image', 'target_image'), ...requireOneOf(context, 'target_image', 'image')];
  },
  'step.scan_deps': (context) => [...rename(context, 'source_path', 'path'), ...dropOutputFormat(context)],
  'step.artifact_push': (context) => {
    const problems = [...rename(context, 'source_path', 'path'), ...requireOneOf(context, 'path', 'source_path')];
    const dest = context.config.dest;
    delete context.config.dest;
    // Upstream's default destination, artifact_store, is the workflow's artifact store: Flowyard's default store.
    if (dest !== undefined && dest !== 'artifact_store') {
      context.config.dest = dest;
      problems.push(...rename(context, 'dest', 'store'));
    }
    return problems;
  },
  'step.artifact_pull': (context) => {
    const problems: Problem[] = [];
    if (context.config.source === 'url') {
      problems.push({
        field: 'source',
        message: 'source "url" is not supported: push the file as an artifact of a run and pull it by key (previous_execution)',
      });
    }
    delete context.config.source;
    const id = context.config.execution_id;
    if (id !== undefined) {
      const run = typeof id === 'number' ? id : /^[1-9]\d*$/.test(String(id)) ? Number(id) : id === 'latest_success' ? id : null;
      // Upstream's executions are not Flowyard's runs: an ID given any other way (usually a template such as
      // {{.PreviousExecutionID}}) means an earlier execution, and the closest Flowyard has is the last successful run.
      if (run === null) {
        problems.push({
          field: 'execution_id',
          severity: 'warning',
          code: 'mapped_value',
          message: `execution_id "${String(id)}" is not a run number; the artifact is taken from the latest successful run (from_run: latest_success)`,
        });
      }
      problems.push(...rename(context, 'execution_id', 'from_run', () => run ?? 'latest_success'));
    }
    return problems;
  },
  'step.docker_push': (context) => {
    const { config, modules } = context;
    const registry = String(config.registry);
    const authProvider = config.auth_provider as string | undefined;
    delete config.auth_provider;
    if (modules.has(registry)) {
      return authProvider !== undefined && authProvider !== registry
        ? [{ field: 'auth_provider', message: `auth_provider "${authProvider}" differs from the registry module "${registry}", whose credentials are used` }]
        : [];
    }
    if (!looksLikeHost(registry) || registry.includes('{{')) return [];
    // Upstream pushes registry + "/" + image; here the image name carries the host and a module the credentials.
    const prefix = registry.replace(/\/+$/, '');
    const host = prefix.split('/')[0]!;
    const image = String(config.image);
    if (!image.startsWith(`${prefix}/`)) config.image = `${prefix}/${image}`;
    const credentials = authProvider === undefined ? undefined : modules.get(authProvider);
    if (credentials?.type === 'docker.registry') {
      config.registry = authProvider;
      const moduleHost = registryHost(credentials);
      return moduleHost !== host ? [{ field: 'auth_provider', message: `registry module "${authProvider}" is for ${moduleHost}, not ${host}` }] : [];
    }
    const sameHost = [...modules.values()].find((m) => m.type === 'docker.registry' && registryHost(m) === host);
    config.registry =
      sameHost?.name ??
      context.addModule({ type: 'docker.registry', config: { url: host, insecure: false } }, `registry-${host.replace(/[^A-Za-z0-9_.-]/g, '-')}`);
    return authProvider === undefined || sameHost
      ? []
      : [
          {
            field: 'auth_provider',
            severity: 'warning',
            code: 'unsupported_value',
            message: `no docker.registry module is named "${authProvider}", so the push to ${host} goes without credentials; add a docker.registry module for ${host} with username and password_secret, and name it here`,
          },
        ];
  },
  'step.gate': ({ config }) =>
    config.type === 'scheduled'
      ? [{ field: 'type', message: 'gate type "scheduled" is not implemented yet; use manual or auto', code: 'not_implemented' }]
      : [],
  'step.deploy': (context) => {
    const { config, modules } = context;
    const provider = config.provider as string | undefined;
    delete config.provider;
    resolvePercentages(config);
    if (provider === undefined) return requireOneOf(context, 'target', 'provider');
    // Upstream names the provider on the step; Flowyard keeps it in a deploy.target module, implied here.
    if (config.target === undefined) config.target = context.addModule({ type: 'deploy.target', config: { provider } }, `${provider}-target`);
    const target = modules.get(String(config.target));
    const targetProvider = target?.config.provider;
    return target?.type === 'deploy.target' && targetProvider !== provider
      ? [{ field: 'provider', message: `provider "${provider}" differs from the provider "${String(targetProvider)}" of target "${String(config.target)}"` }]
      : [];
  },
};

/** Rolling limits given as a percentage of the replicas: surge rounds up and unavailable down, as Kubernetes does. */
function resolvePercentages(config: Config): void {
  const rolling = config.rolling as Record<string, unknown> | undefined;
  if (!rolling) return;
  const replicas = Number(config.replicas ?? 1);
  for (const [field, round] of [
    ['max_surge', Math.ceil],
    ['max_unavailable', Math.floor],
  ] as const) {
    const value = rolling[field];
    if (typeof value === 'string') rolling[field] = round((replicas * Number(value.slice(0, -1))) / 100);
  }
}

function rawAt(value: unknown, path: readonly PathSegment[]): Config {
  let current = value;
  for (const segment of path) current = (current as Record<string | number, unknown> | undefined)?.[segment as never];
  return current && typeof current === 'object' && !Array.isArray(current) ? (current as Config) : {};
}

/** Normalises every step of a schema-valid (or salvaged) workflow in place; returns the problems found. */
export function normaliseWorkflow(source: SourceDocument, workflow: Workflow, placeholders: WeakSet<object> = new WeakSet()): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const moduleList = (workflow.modules ?? []) as WorkflowModule[];
  const modules = new Map(moduleList.map((m) => [m.name, m]));
  const addModule: StepContext['addModule'] = (module, preferredName) => {
    const existing = [...modules.values()].find((m) => m.type === module.type && JSON.stringify(m.config) === JSON.stringify(module.config));
    if (existing) return existing.name;
    let name = preferredName;
    for (let n = 2; modules.has(name); n++) name = `${preferredName}-${n}`;
    const added = { name, ...module };
    modules.set(name, added);
    moduleList.push(added);
    workflow.modules = moduleList as Workflow['modules'];
    return name;
  };
  const applications = (workflow as { workflows?: Record<string, unknown> }).workflows;
  delete (workflow as { workflows?: unknown }).workflows;
  if (applications && Object.keys(applications).length > 0) {
    diagnostics.push(
      diagnosticAt(
        source,
        ['workflows'],
        'error',
        'not_implemented',
        'upstream application workflows (HTTP routing, state machines) are not run by Flowyard, which runs pipelines; leave workflows empty',
        'key',
      ),
    );
  }
  for (const [pipelineName, pipeline] of Object.entries(workflow.pipelines)) {
    const lists: Array<[string, Step[]]> = [
      ['steps', pipeline.steps],
      ['compensation', pipeline.compensation ?? []],
    ];
    for (const [listName, steps] of lists) {
      steps.forEach((step, i) => {
        const normalise = NORMALISERS[step.type];
        if (!normalise || placeholders.has(step)) return;
        const path: PathSegment[] = ['pipelines', pipelineName, listName, i, 'config'];
        for (const problem of normalise({ config: step.config, raw: rawAt(source.value, path), modules, addModule })) {
          const at = problem.field ? [...path, problem.field] : path;
          diagnostics.push(
            diagnosticAt(
              source,
              at,
              problem.severity ?? 'error',
              problem.code ?? 'invalid_value',
              problem.message,
              problem.anchor ?? (problem.field ? 'value' : 'key'),
            ),
          );
        }
      });
    }
  }
  return diagnostics;
}
