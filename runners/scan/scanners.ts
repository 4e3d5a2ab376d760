// The real command line of each scanner for SARIF output, run offline (see docs/scans.md).
import type { StepConfig } from '../../server/engine/schema/steps.ts';
import { workspacePath } from '../docker/archive.ts';
import { WORKSPACE_PATH } from '../docker/workspace.ts';
import type { GateThreshold } from './sarif.ts';

export const DEFAULT_SCANNER_IMAGES = {
  semgrep: 'semgrep/semgrep:latest',
  trivy: 'aquasec/trivy:latest',
  grype: 'anchore/grype:latest',
} as const;
export type ScannerName = keyof typeof DEFAULT_SCANNER_IMAGES;

/** Where a container scan finds the `docker save` tarball of its target: in the scanner container, not the workspace. */
export const TARGET_IMAGE_TAR = '/flowyard/target-image.tar';
/** Scanners write their SARIF here (one file per step), so later steps of the job can read it too. */
export const SCAN_OUTPUT_DIR = `${WORKSPACE_PATH}/.flowyard/scans`;

export interface ScanPlan {
  scanner: ScannerName;
  image: string;
  /** Set explicitly so the images' differing entrypoints (none, trivy, /grype) do not matter. */
  entrypoint: string[];
  args: string[];
  /** Settings that keep the scanner offline; they win over the pipeline env. */
  env: Record<string, string>;
  /** SARIF file inside the container, under /workspace. */
  outputPath: string;
  /** Image saved by the runner with `docker save` and copied to TARGET_IMAGE_TAR before the scanner starts. */
  targetImage?: string;
  threshold: GateThreshold;
  ignoreUnfixed: boolean;
}

/** `step.scan_sast`: semgrep scan over paths of the workspace, run from /workspace so the SARIF paths are relative to it. */
export function semgrepPlan(config: StepConfig<'step.scan_sast'>, stepName: string): ScanPlan {
  const rules = oneRulesPath(config.rules);
  if (rules === 'auto' || /^(p|r|s)\//.test(rules) || /^https?:\/\//.test(rules)) {
    throw new Error(
      `rules "${rules}" come from the Semgrep registry, which scanner containers cannot reach (they run without network): ` +
        'set rules to a rule file or folder in the workspace (e.g. .semgrep.yml) or baked into scanner_image',
    );
  }
  if (config.paths.length === 0) throw new Error('paths must be a non-empty list of paths, got []');
  const outputPath = outputFor(stepName);
  return {
    scanner: 'semgrep',
    image: config.scanner_image ?? DEFAULT_SCANNER_IMAGES.semgrep,
    entrypoint: ['semgrep'],
    args: ['scan', '--config', rules, '--sarif', '--output', outputPath, '--metrics=off', '--disable-version-check', ...config.paths.map(relativeTarget)],
    env: {},
    outputPath,
    threshold: config.fail_on_severity,
    ignoreUnfixed: false,
  };
}

/** `step.scan_container`: trivy image on a tarball of the target, so the scanner needs neither the Docker socket nor privileges. */
export function trivyPlan(config: StepConfig<'step.scan_container'>, stepName: string): ScanPlan {
  const targetImage = config.target_image;
  if (!targetImage) throw new Error('step.scan_container needs target_image');
  const ignoreUnfixed = config.ignore_unfixed;
  const outputPath = outputFor(stepName);
  return {
    scanner: 'trivy',
    image: config.scanner_image ?? DEFAULT_SCANNER_IMAGES.trivy,
    entrypoint: ['trivy'],
    args: [
      'image',
      '--input',
      TARGET_IMAGE_TAR,
      '--format',
      'sarif',
      '--output',
      outputPath,
      '--skip-db-update',
      '--skip-java-db-update',
      '--offline-scan',
      '--no-progress',
      ...(ignoreUnfixed ? ['--ignore-unfixed'] : []),
    ],
    env: {},
    outputPath,
    targetImage,
    threshold: config.severity_threshold,
    ignoreUnfixed,
  };
}

/** `step.scan_deps`: grype on a workspace folder, with its bundled database and no update checks. */
export function grypePlan(config: StepConfig<'step.scan_deps'>, stepName: string): ScanPlan {
  const ignoreUnfixed = config.ignore_unfixed;
  const outputPath = outputFor(stepName);
  return {
    scanner: 'grype',
    image: config.scanner_image ?? DEFAULT_SCANNER_IMAGES.grype,
    entrypoint: ['/grype'],
    args: [`dir:${workspacePath(config.path)}`, '-o', 'sarif', '--file', outputPath, ...(ignoreUnfixed ? ['--only-fixed'] : [])],
    env: { GRYPE_DB_AUTO_UPDATE: 'false', GRYPE_CHECK_FOR_APP_UPDATE: 'false' },
    outputPath,
    threshold: config.fail_on_severity,
    ignoreUnfixed,
  };
}

/** Step names are identifiers (letters, digits, _ . -), so they are safe as file names. */
const outputFor = (stepName: string) => `${SCAN_OUTPUT_DIR}/${stepName}.sarif`;

/** A scan target relative to /workspace (refusing paths outside it); never read as an option. */
function relativeTarget(path: string): string {
  const relative = workspacePath(path).slice(WORKSPACE_PATH.length + 1) || '.';
  return relative.startsWith('-') ? `./${relative}` : relative;
}

/** Semgrep takes one rules file or folder; upstream writes it as a list of one (the build reduces that to the path). */
function oneRulesPath(rules: string | string[]): string {
  if (typeof rules === 'string') return rules;
  if (rules.length === 1) return rules[0]!;
  throw new Error(`rules must be one rules file or folder, got ${JSON.stringify(rules)}: put these rules in one folder of the workspace and name it`);
}
