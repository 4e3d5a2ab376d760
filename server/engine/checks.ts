import { Cron } from 'croner';
import type { Diagnostic, PathSegment } from './diagnostics.ts';
import { ExpressionError, expressionPaths, parseExpression } from './expressions.ts';
import { diagnosticAt, diagnosticInString } from './locate.ts';
import { parseDuration } from './schema/common.ts';
import { isBuiltStep, stepTypesByName, type StepConfig, type StepTypeDef } from './schema/steps.ts';
import type { Pipeline, Step, Workflow, WorkflowModule } from './schema/workflow.ts';
import type { SourceDocument } from './source.ts';
import { didYouMean, suggestionFix } from './suggest.ts';
import { checkTemplateString, forEachString, type TemplateScope } from './template-check.ts';
import { checkUpstreamExpressions } from './upstream-expressions.ts';

/** Step config fields that name a module, with the module type they need. */
const MODULE_REFERENCES: Record<string, Array<{ field: string; moduleType: string }>> = {
  'step.artifact_push': [{ field: 'store', moduleType: 'artifact.store' }],
  'step.artifact_pull': [{ field: 'store', moduleType: 'artifact.store' }],
  'step.docker_push': [{ field: 'registry', moduleType: 'docker.registry' }],
  'step.deploy': [{ field: 'target', moduleType: 'deploy.target' }],
};

export interface CheckResult {
  diagnostics: Diagnostic[];
  /** Per pipeline, per step: the earlier steps whose outputs its templates read. */
  dataDependencies: Map<string, Map<string, Set<string>>>;
}

export function isValidTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

export function cronError(expression: string, timezone: string): string | null {
  try {
    new Cron(expression, { paused: true, timezone });
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

class Checker {
  readonly diagnostics: Diagnostic[] = [];
  readonly dataDependencies = new Map<string, Map<string, Set<string>>>();
  private readonly modules: Map<string, WorkflowModule>;
  private readonly secrets: string[];

  constructor(
    private readonly source: SourceDocument,
    private readonly workflow: Workflow,
    /** Steps and modules that failed their schema: they hold names and positions, but their config is not checked. */
    private readonly placeholders: WeakSet<object>,
    private readonly stepTypes: ReadonlyMap<string, StepTypeDef>,
  ) {
    this.modules = new Map((workflow.modules ?? []).map((m) => [(m as WorkflowModule).name, m as WorkflowModule]));
    this.secrets = workflow.secrets ?? [];
  }

  private report(path: PathSegment[], code: string, message: string, severity: 'error' | 'warning' = 'error', anchor: 'key' | 'value' = 'value') {
    this.diagnostics.push(diagnosticAt(this.source, path, severity, code, message, anchor));
  }

  /** A reference to a name that does not exist, with the closest existing name as a quick fix. */
  private reportUnknown(path: PathSegment[], code: string, message: string, name: string, names: readonly string[]) {
    this.diagnostics.push({ ...diagnosticAt(this.source, path, 'error', code, `${message}${didYouMean(name, names)}`), ...suggestionFix(name, names) });
  }

  private checkSecretDeclared(name: string | undefined, path: PathSegment[]) {
    if (name !== undefined && !this.secrets.includes(name)) {
      this.report(path, 'undeclared_secret', `secret "${name}" is not listed under secrets${didYouMean(name, this.secrets)}`);
    }
  }

  checkModules() {
    const seen = new Set<string>();
    (this.workflow.modules ?? []).forEach((raw, i) => {
      const module = raw as WorkflowModule;
      if (seen.has(module.name)) this.report(['modules', i, 'name'], 'duplicate_name', `duplicate module name "${module.name}"`);
      seen.add(module.name);
      if (this.placeholders.has(module)) return;
      (module.dependsOn ?? []).forEach((dep, j) => {
        if (dep === module.name) this.report(['modules', i, 'dependsOn', j], 'unknown_module', `module "${module.name}" cannot depend on itself`);
        else if (!this.modules.has(dep)) {
          this.report(['modules', i, 'dependsOn', j], 'unknown_module', `no module is named "${dep}"${didYouMean(dep, [...this.modules.keys()])}`);
        }
      });
      const config = module.config;
      if (module.type === 'artifact.store' && config.backend === 's3' && !config.bucket) {
        this.report(['modules', i, 'config'], 'missing_field', 'an s3 artifact store needs a bucket', 'error', 'key');
      }
      this.checkSecretDeclared(config.password_secret as string | undefined, ['modules', i, 'config', 'password_secret']);
      this.checkSecretDeclared(config.secret as string | undefined, ['modules', i, 'config', 'secret']);
    });
  }

  checkTriggers() {
    const webhookPaths = new Map<string, string>();
    const checkOne = (trigger: { type: string; config?: Record<string, unknown> }, path: PathSegment[]) => {
      const config = trigger.config ?? {};
      if (trigger.type === 'http') {
        const hookPath = String(config.path);
        const holder = webhookPaths.get(hookPath);
        if (holder) this.report([...path, 'config', 'path'], 'duplicate_webhook', `webhook path "${hookPath}" is already used by ${holder}`);
        webhookPaths.set(hookPath, path.join('.'));
        this.checkSecretDeclared(config.secret as string | undefined, [...path, 'config', 'secret']);
      } else if (trigger.type === 'schedule') {
        const timezone = String(config.timezone);
        if (!isValidTimezone(timezone)) {
          this.report([...path, 'config', 'timezone'], 'invalid_timezone', `unknown time zone "${timezone}"; use an IANA name such as UTC or Europe/Berlin`);
          return;
        }
        const problem = cronError(String(config.cron), timezone);
        if (problem) this.report([...path, 'config', 'cron'], 'invalid_cron', `invalid cron expression "${String(config.cron)}": ${problem}`);
      }
    };
    for (const [name, pipeline] of Object.entries(this.workflow.pipelines)) {
      if (pipeline.trigger) checkOne(pipeline.trigger, ['pipelines', name, 'trigger']);
    }
    const pipelineNames = Object.keys(this.workflow.pipelines);
    (this.workflow.triggers ?? []).forEach((trigger, i) => {
      if (!pipelineNames.includes(trigger.pipeline)) {
        this.report(
          ['triggers', i, 'pipeline'],
          'unknown_pipeline',
          `no pipeline is named "${trigger.pipeline}"${didYouMean(trigger.pipeline, pipelineNames)}`,
        );
      }
      checkOne(trigger, ['triggers', i]);
    });
  }

  checkPipeline(name: string, pipeline: Pipeline) {
    const base: PathSegment[] = ['pipelines', name];
    const steps = pipeline.steps;
    const compensation = pipeline.compensation ?? [];
    const all = [
      ...steps.map((step, i) => ({ step, path: [...base, 'steps', i] })),
      ...compensation.map((step, i) => ({ step, path: [...base, 'compensation', i] })),
    ];
    const byName = new Map<string, { index: number; step: Step }>();
    all.forEach(({ step, path }, index) => {
      if (byName.has(step.name)) this.report([...path, 'name'], 'duplicate_name', `duplicate step name "${step.name}" in pipeline "${name}"`);
      else byName.set(step.name, { index, step });
    });
    if (pipeline.on_error === 'compensate' && compensation.length === 0) {
      this.report([...base, 'on_error'], 'missing_compensation', 'on_error is compensate, but the pipeline has no compensation steps');
    }
    if (pipeline.on_error !== 'compensate' && compensation.length > 0) {
      this.report(
        [...base, 'compensation'],
        'unused_compensation',
        `compensation steps only run when on_error is compensate (it is ${pipeline.on_error})`,
        'warning',
        'key',
      );
    }
    for (const [inputName, input] of Object.entries(pipeline.inputs ?? {})) {
      const path = [...base, 'inputs', inputName];
      if (input.type === 'choice' && !input.options?.length) this.report(path, 'missing_field', 'a choice input needs options', 'error', 'key');
      if (input.type === 'choice' && input.default !== undefined && !input.options?.includes(String(input.default))) {
        this.report([...path, 'default'], 'invalid_value', `default "${String(input.default)}" is not one of the options`);
      }
    }
    const pipelineTimeout = parseDuration(pipeline.timeout) ?? Infinity;
    const dependencies = new Map<string, Set<string>>();
    this.dataDependencies.set(name, dependencies);
    const pipelineEnv = Object.keys(pipeline.env ?? {});
    const scopeFor = (index: number, step?: Step): TemplateScope => ({
      source: this.source,
      steps: byName,
      before: index,
      inputs: Object.keys(pipeline.inputs ?? {}),
      secrets: this.secrets,
      env: [...pipelineEnv, ...Object.keys(isRecord(step?.config.env) ? step.config.env : {})],
      stepTypes: this.stepTypes,
    });
    forEachString(pipeline.env ?? {}, [...base, 'env'], (text, path) => this.diagnostics.push(...checkTemplateString(text, path, scopeFor(0))));
    forEachString(pipeline.outputs ?? {}, [...base, 'outputs'], (text, path) =>
      this.diagnostics.push(...checkTemplateString(text, path, scopeFor(steps.length))),
    );

    all.forEach(({ step, path }, index) => {
      // Compensation steps run after the main steps, so they may read any of them.
      const position = index >= steps.length ? Math.max(index, steps.length) : index;
      const reads = new Set<string>();
      dependencies.set(step.name, reads);
      const scope = scopeFor(position, step);
      forEachString({ config: step.config, if: step.if, skip_if: step.skip_if }, path, (text, p) => {
        this.diagnostics.push(...checkTemplateString(text, p, scope, reads));
        // Shell commands keep their own ${VAR} syntax.
        if (!(step.type === 'step.shell_exec' && p[path.length + 1] === 'commands')) this.diagnostics.push(...checkUpstreamExpressions(this.source, p, text));
      });
      (step.needs ?? []).forEach((need, j) => {
        const target = byName.get(need);
        if (!target)
          this.reportUnknown([...path, 'needs', j], 'unknown_step_reference', `needs "${need}", but no step has that name`, need, [...byName.keys()]);
        else if (target.index >= index) this.report([...path, 'needs', j], 'later_step_reference', `needs "${need}", which does not run before this step`);
      });
      if (this.placeholders.has(step)) return;
      for (const { field, moduleType } of MODULE_REFERENCES[step.type] ?? []) {
        const ref = step.config[field] as string | undefined;
        if (ref === undefined) continue;
        const module = this.modules.get(ref);
        if (!module) this.reportUnknown([...path, 'config', field], 'unknown_module', `no module is named "${ref}"`, ref, [...this.modules.keys()]);
        else if (module.type !== moduleType && !this.placeholders.has(module))
          this.report([...path, 'config', field], 'wrong_module_type', `module "${ref}" is a ${module.type}, but ${field} needs a ${moduleType}`);
      }
      if (isBuiltStep(step, 'step.conditional')) this.checkRoutes(step.config, path, index, byName);
      if (isBuiltStep(step, 'step.gate')) this.checkGate(step.config, path, index, byName);
      if (isBuiltStep(step, 'step.deploy')) this.checkDeploy(step.config, path);
      const stepTimeout = step.timeout ? parseDuration(step.timeout) : null;
      if (stepTimeout !== null && stepTimeout > pipelineTimeout) {
        this.report(
          [...path, 'timeout'],
          'timeout_exceeds_pipeline',
          `step timeout ${step.timeout} is longer than the pipeline timeout ${pipeline.timeout}`,
          'warning',
        );
      }
    });
  }

  private checkDeploy(config: StepConfig<'step.deploy'>, path: PathSegment[]) {
    if (config.strategy === 'canary' && !config.canary) {
      this.report([...path, 'config', 'strategy'], 'missing_field', 'a canary deploy needs canary.steps with the weights to go through');
    }
    if (config.rolling && config.rolling.max_surge === 0 && config.rolling.max_unavailable === 0) {
      this.report(
        [...path, 'config', 'rolling'],
        'invalid_value',
        'rolling: max_surge and max_unavailable cannot both be 0, or no instance could ever be replaced',
        'error',
        'key',
      );
    }
  }

  private checkGate(config: StepConfig<'step.gate'>, path: PathSegment[], index: number, byName: Map<string, { index: number; step: Step }>) {
    (config.approvers ?? []).forEach((approver, i) => {
      if (approver.startsWith('role:') ? !['viewer', 'editor', 'admin'].includes(approver.slice(5)) : !approver.includes('@')) {
        this.report(
          [...path, 'config', 'approvers', i],
          'invalid_approver',
          `approver "${approver}" must be an e-mail or role:viewer, role:editor or role:admin`,
        );
      }
    });
    (config.auto_approve_conditions ?? []).forEach((condition, i) => {
      const at = [...path, 'config', 'auto_approve_conditions', i];
      let tree: ReturnType<typeof parseExpression>;
      try {
        tree = parseExpression(condition);
      } catch (error) {
        const offset = error instanceof ExpressionError ? error.offset : 0;
        this.diagnostics.push(
          diagnosticInString(this.source, at, condition, offset, 1, 'error', 'invalid_condition', `condition: ${(error as Error).message}`),
        );
        return;
      }
      for (const { path: read, at: offset } of expressionPaths(tree)) {
        if (read[0] !== 'steps') {
          // Upstream writes scan.passed for a step's output; conditions here see only steps.<name>.<output>.
          const hint = byName.has(read[0]!) ? `; did you mean steps.${read.join('.')}?` : '';
          this.diagnostics.push(
            diagnosticInString(
              this.source,
              at,
              condition,
              offset,
              read.join('.').length,
              'warning',
              'unreadable_condition',
              `condition reads ${read.join('.')}, which is never set: gate conditions read step outputs as steps.<name>.<output>${hint}`,
            ),
          );
          continue;
        }
        if (read[1] === undefined) continue;
        const target = byName.get(read[1]);
        const message = !target
          ? `condition reads steps.${read[1]}, but no step has that name${didYouMean(read[1], [...byName.keys()])}`
          : target.index >= index
            ? `condition reads steps.${read[1]}, which does not run before this gate`
            : null;
        if (message)
          this.diagnostics.push(diagnosticInString(this.source, at, condition, offset, read.join('.').length, 'error', 'unknown_step_reference', message));
      }
    });
  }

  private checkRoutes(config: StepConfig<'step.conditional'>, path: PathSegment[], index: number, byName: Map<string, { index: number; step: Step }>) {
    const check = (target: string, targetPath: PathSegment[]) => {
      const found = byName.get(target);
      if (!found) this.reportUnknown(targetPath, 'unknown_step_reference', `route goes to "${target}", but no step has that name`, target, [...byName.keys()]);
      else if (found.index <= index)
        this.report(targetPath, 'later_step_reference', `route goes to "${target}", which is not after this step; routes can only jump forward`);
    };
    for (const [value, target] of Object.entries(config.routes)) check(target, [...path, 'config', 'routes', value]);
    if (config.default !== undefined) check(config.default, [...path, 'config', 'default']);
  }
}

/** Semantic checks on a schema-valid workflow: references, templates, cron, duplicates. */
export function checkWorkflow(
  source: SourceDocument,
  workflow: Workflow,
  placeholders: WeakSet<object> = new WeakSet(),
  stepTypes: ReadonlyMap<string, StepTypeDef> = stepTypesByName,
): CheckResult {
  const checker = new Checker(source, workflow, placeholders, stepTypes);
  checker.checkModules();
  checker.checkTriggers();
  for (const [name, pipeline] of Object.entries(workflow.pipelines)) checker.checkPipeline(name, pipeline);
  return { diagnostics: checker.diagnostics, dataDependencies: checker.dataDependencies };
}
