// The real command line of each scanner for SARIF output, run offline (see docs/scans.md).
import { workspacePath } from '../docker/archive.ts';
import { WORKSPACE_PATH } from '../docker/workspace.ts';
import { SEVERITIES, type GateThreshold } from './sarif.ts';

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

type Config = Record<string, unknown>;

/** `step.scan_sast`: semgrep scan over paths of the workspace, run from /workspace so the SARIF paths are relative to it. */
export function semgrepPlan(config: Config, stepName: string): ScanPlan {
  const rules = stringOption(config, 'rules', 'auto');
  if (rules === 'auto' || /^(p|r|s)\//.test(rules) || /^https?:\/\//.test(rules)) {
    throw new Error(
      `rules "${rules}" come from the Semgrep registry, which scanner containers cannot reach (they run without network): ` +
        'set rules to a rule file or folder in the workspace (e.g. .semgrep.yml) or baked into scanner_image',
    );
  }
  const paths = config.paths === undefined ? ['.'] : stringList(config.paths, 'paths');
  const outputPath = outputFor(stepName);
  return {
    scanner: 'semgrep',
    image: stringOption(config, 'scanner_image', DEFAULT_SCANNER_IMAGES.semgrep),
    entrypoint: ['semgrep'],
    args: ['scan', '--config', rules, '--sarif', '--output', outputPath, '--metrics=off', '--disable-version-check', ...paths.map(relativeTarget)],
    env: {},
    outputPath,
    threshold: threshold(config, 'fail_on_severity'),
    ignoreUnfixed: false,
  };
}

/** `step.scan_container`: trivy image on a tarball of the target, so the scanner needs neither the Docker socket nor privileges. */
export function trivyPlan(config: Config, stepName: string): ScanPlan {
  const targetImage = stringOption(config, 'target_image', '');
  if (!targetImage) throw new Error('step.scan_container needs target_image');
  const ignoreUnfixed = booleanOption(config, 'ignore_unfixed');
  const outputPath = outputFor(stepName);
  return {
    scanner: 'trivy',
    image: stringOption(config, 'scanner_image', DEFAULT_SCANNER_IMAGES.trivy),
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
    threshold: threshold(config, 'severity_threshold'),
    ignoreUnfixed,
  };
}

/** `step.scan_deps`: grype on a workspace folder, with its bundled database and no update checks. */
export function grypePlan(config: Config, stepName: string): ScanPlan {
  const ignoreUnfixed = booleanOption(config, 'ignore_unfixed');
  const outputPath = outputFor(stepName);
  return {
    scanner: 'grype',
    image: stringOption(config, 'scanner_image', DEFAULT_SCANNER_IMAGES.grype),
    entrypoint: ['/grype'],
    args: [`dir:${workspacePath(stringOption(config, 'path', '.'))}`, '-o', 'sarif', '--file', outputPath, ...(ignoreUnfixed ? ['--only-fixed'] : [])],
    env: { GRYPE_DB_AUTO_UPDATE: 'false', GRYPE_CHECK_FOR_APP_UPDATE: 'false' },
    outputPath,
    threshold: threshold(config, 'fail_on_severity'),
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

function threshold(config: Config, key: string): GateThreshold {
  const value = config[key] ?? 'high';
  if (value === 'none' || SEVERITIES.includes(value as never)) return value as GateThreshold;
  throw new Error(`${key} must be one of ${[...SEVERITIES, 'none'].join(', ')}, got ${JSON.stringify(value)}`);
}

function stringOption(config: Config, key: string, fallback: string): string {
  const value = config[key] ?? fallback;
  if (typeof value !== 'string') throw new Error(`${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function booleanOption(config: Config, key: string): boolean {
  const value = config[key] ?? false;
  if (typeof value !== 'boolean') throw new Error(`${key} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function stringList(value: unknown, key: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((item) => typeof item !== 'string')) {
    throw new Error(`${key} must be a non-empty list of paths, got ${JSON.stringify(value)}`);
  }
  return value as string[];
}
