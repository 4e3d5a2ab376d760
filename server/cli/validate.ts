import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWorkflow, type BuildResult } from '../engine/build.ts';
import type { Diagnostic } from '../engine/diagnostics.ts';
import { availableTypes } from '../engine/validate.ts';

export function formatDiagnostic(file: string, d: Diagnostic): string {
  return `${file}:${d.line}:${d.column}: ${d.severity}: ${d.message}${d.path ? ` [${d.path}]` : ''}`;
}

async function buildFile(file: string): Promise<BuildResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    return {
      ok: false,
      error: reason,
      diagnostics: [{ severity: 'error', code: 'unreadable', message: `cannot read the file: ${reason}`, path: '', line: 1, column: 1 }],
    };
  }
  return buildWorkflow(bytes, basename(file));
}

export async function runValidate(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length === 0) {
    process.stderr.write('usage: flowyard validate FILE...\n');
    return 2;
  }
  let failed = false;
  for (const file of positionals) {
    const result = await buildFile(file);
    for (const d of result.diagnostics) process.stdout.write(`${formatDiagnostic(file, d)}\n`);
    if (!result.ok) failed = true;
    else if (result.diagnostics.length === 0) process.stdout.write(`${file}: ok\n`);
  }
  return failed ? 1 : 0;
}

export async function runTryActivate(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    process.stderr.write('usage: flowyard try-activate FILE [--json]\n');
    return 2;
  }
  const result = await buildFile(file);
  const body = result.ok
    ? {
        status: 'build_ok',
        moduleTypes: result.moduleTypes,
        stepTypes: result.stepTypes,
        triggerTypes: result.triggerTypes,
        plan: result.plan,
        diagnostics: result.diagnostics,
        available: availableTypes,
      }
    : { status: 'build_failed', error: result.error, diagnostics: result.diagnostics, available: availableTypes };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return result.ok ? 0 : 1;
  }
  for (const d of result.diagnostics) process.stdout.write(`${formatDiagnostic(file, d)}\n`);
  if (!result.ok) {
    process.stdout.write(`build_failed: ${result.error}\n`);
    return 1;
  }
  process.stdout.write(
    `build_ok\n  module types:  ${result.moduleTypes.join(', ') || '(none)'}\n  step types:    ${result.stepTypes.join(', ')}\n  trigger types: ${result.triggerTypes.join(', ')}\n`,
  );
  for (const pipeline of result.plan.pipelines) {
    const triggers = pipeline.triggers
      .map((t) => (t.type === 'http' ? `http ${t.path}` : t.type === 'schedule' ? `schedule "${t.cron}"` : 'manual'))
      .join(', ');
    process.stdout.write(`  pipeline ${pipeline.name} (${triggers}; ${pipeline.jobs} job${pipeline.jobs > 1 ? 's' : ''})\n`);
    pipeline.steps.forEach((step, i) => {
      const job = pipeline.jobs > 1 ? `  (job ${step.job + 1})` : '';
      process.stdout.write(`    ${i + 1}. ${step.name}  ${step.type}${job}\n`);
    });
  }
  return 0;
}
