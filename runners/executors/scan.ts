import { createWriteStream } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../docker/engine.ts';
import { nameSavedImage } from '../docker/image-tar.ts';
import { splitImageRef, stepDeadline } from '../docker/images.ts';
import { runScannerContainer } from '../scan/container.ts';
import { bySeverity, formatReport } from '../scan/report.ts';
import { SarifError, parseSarif, scanResult } from '../scan/sarif.ts';
import { SCAN_OUTPUT_DIR, TARGET_IMAGE_TAR, type ScanPlan, grypePlan, semgrepPlan, trivyPlan } from '../scan/scanners.ts';
import type { TarEntry } from '../scan/tar.ts';
import { withConfig } from './config.ts';
import { refusal, stepImage } from './isolation.ts';
import type { StepResult, StepRuntime } from './types.ts';

/** Findings returned in the step outputs (worst first); the SARIF artifact has them all. */
const MAX_OUTPUT_FINDINGS = 200;
const MAX_MESSAGE_CHARS = 1000;

/** step.scan_sast: Semgrep over workspace paths. */
export const scanSast = withConfig('step.scan_sast', async (runtime, config) => runScan(runtime, semgrepPlan(config, runtime.step.name)));
/** step.scan_container: Trivy over a `docker save` tarball of target_image. */
export const scanContainer = withConfig('step.scan_container', async (runtime, config) => runScan(runtime, trivyPlan(config, runtime.step.name)));
/** step.scan_deps: Grype over a workspace folder. */
export const scanDeps = withConfig('step.scan_deps', async (runtime, config) => runScan(runtime, grypePlan(config, runtime.step.name)));

/**
 * Runs the scanner, stores its SARIF as the artifact sarif/<step>.sarif, and fails the step when the gate
 * does not pass. The report also stays in the workspace at the plan's outputPath for later steps.
 */
async function runScan(runtime: StepRuntime, plan: ScanPlan): Promise<StepResult> {
  const deadline = stepDeadline(runtime.signal, runtime.step.timeoutMs);
  const interrupted = (): StepResult =>
    runtime.signal.aborted
      ? { state: 'cancelled', exitCode: null, error: 'scan cancelled' }
      : { state: 'timed_out', exitCode: null, error: `scan timed out after ${runtime.step.timeoutMs} ms` };
  const imageTar = join(runtime.tempDir, `scan-target-${runtime.step.index}.tar`);
  const sarifFile = join(runtime.tempDir, `scan-${runtime.step.index}.sarif`);
  try {
    // The report folder is world-writable (sticky, like /tmp) so that scanner images with a non-root user can write there.
    const setup: TarEntry[] = [
      { type: 'dir', name: 'workspace/.flowyard', mode: 0o755 },
      { type: 'dir', name: SCAN_OUTPUT_DIR.slice(1), mode: 0o1777 },
    ];
    if (plan.targetImage) {
      const saved = await saveImage(runtime, plan.targetImage, imageTar, deadline.signal);
      if (saved === 'interrupted') return interrupted();
      if (saved) return { state: 'failed', exitCode: null, error: saved };
      setup.push({ type: 'dir', name: 'flowyard', mode: 0o755 }, { type: 'file', name: TARGET_IMAGE_TAR.slice(1), mode: 0o644, hostFile: imageTar });
    }
    let scannerImage: string;
    try {
      scannerImage = (await stepImage(runtime, plan.image)).id;
    } catch (error) {
      return { ...refusal(error), exitCode: null };
    }
    runtime.log(`running ${plan.scanner} (${plan.image}) without network, report to ${plan.outputPath}`);
    const outcome = await runScannerContainer(
      runtime.docker,
      {
        image: scannerImage,
        entrypoint: plan.entrypoint,
        args: plan.args,
        env: { ...runtime.env, ...plan.env },
        workspaceVolume: runtime.workspaceVolume,
        labels: { ...runtime.jobLabels, 'flowyard.run': runtime.job.runId, 'flowyard.step': runtime.step.name },
        setup,
        outputPath: plan.outputPath,
      },
      { onOutput: (chunk) => runtime.output(chunk), signal: deadline.signal },
    );
    if (outcome.status === 'interrupted') return interrupted();
    if (outcome.status === 'failed') return { state: 'failed', exitCode: outcome.exitCode, error: `${plan.scanner}: ${outcome.error}` };

    await writeFile(sarifFile, outcome.output);
    const stored = await runtime.artifacts.upload(`sarif/${runtime.step.name}.sarif`, sarifFile);
    runtime.log(`stored the SARIF report as artifact ${stored.key} (${stored.size} bytes)`);
    let report;
    try {
      report = parseSarif(outcome.output);
    } catch (error) {
      if (!(error instanceof SarifError)) throw error;
      return { state: 'failed', exitCode: 0, error: `${plan.scanner}: ${error.message}`, outputs: { sarif_key: stored.key } };
    }
    const result = scanResult(report, plan.threshold, { ignoreUnfixed: plan.ignoreUnfixed });
    for (const line of formatReport(result, plan.threshold, stored.key)) runtime.log(line);
    const outputs = {
      passed_gate: result.passedGate,
      findings_count: result.findingsCount,
      summary: result.summary,
      sarif_key: stored.key,
      findings: bySeverity(result.findings)
        .slice(0, MAX_OUTPUT_FINDINGS)
        .map((finding) => ({ ...finding, message: finding.message.slice(0, MAX_MESSAGE_CHARS) })),
    };
    if (result.passedGate) return { state: 'succeeded', exitCode: 0, outputs };
    return { state: 'failed', exitCode: 0, outputs, error: `gate failed: ${result.gate.message}` };
  } finally {
    deadline.dispose();
    await Promise.all([rm(imageTar, { force: true }), rm(sarifFile, { force: true })]);
  }
}

/**
 * `docker save` of the target into `file`, named as the workflow names it even when it is this run's
 * build; returns an error message, 'interrupted', or undefined when saved.
 */
async function saveImage(runtime: StepRuntime, ref: string, file: string, signal: AbortSignal): Promise<string | 'interrupted' | undefined> {
  try {
    const image = await stepImage(runtime, ref);
    runtime.log(`saving image ${ref} for the scanner`);
    const unnamed = `${file}.unnamed`;
    try {
      await pipeline(await runtime.docker.getImage(image.id).get(), createWriteStream(unnamed), { signal });
      const { repository, tag } = splitImageRef(ref);
      await nameSavedImage(unnamed, file, ref.includes('@') ? ref : `${repository}:${tag}`);
    } finally {
      await rm(unnamed, { force: true });
    }
    return undefined;
  } catch (error) {
    return signal.aborted ? 'interrupted' : `could not save target_image ${ref}: ${errorMessage(error)}`;
  }
}
