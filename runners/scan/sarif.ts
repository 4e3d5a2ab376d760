// SARIF 2.1.0 from Semgrep, Trivy and Grype into one finding type, with a severity gate.
// The severity rules are documented in docs/scans.md and tested against real scanner output.

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];
/** Lowest severity that fails the gate; none never fails. */
export type GateThreshold = Severity | 'none';
export type SeveritySummary = Record<Severity, number>;

export interface Finding {
  ruleId: string;
  severity: Severity;
  message: string;
  /** artifactLocation.uri of the first location, as the scanner wrote it. */
  location: string | null;
  line: number | null;
  /** true/false when the scanner says whether a fixed version exists; absent when it does not say. */
  fixAvailable?: boolean;
}

export interface SarifReport {
  /** Driver name(s) as the scanner wrote them, e.g. "Trivy" or "Semgrep OSS". */
  scanner: string;
  findings: Finding[];
  /** Results the scanner reported as suppressed (e.g. nosemgrep): not findings. */
  suppressed: number;
}

export interface GateVerdict {
  passed: boolean;
  /** The findings at or above the threshold. */
  blocking: Finding[];
  /** e.g. "2 high findings at or above high". */
  message: string;
}

export interface ScanResult {
  scanner: string;
  findings: Finding[];
  summary: SeveritySummary;
  findingsCount: number;
  passedGate: boolean;
  gate: GateVerdict;
  /** Findings dropped by ignoreUnfixed because the scanner says no fix exists. */
  ignoredUnfixed: number;
  suppressed: number;
}

export class SarifError extends Error {
  override name = 'SarifError';
}

export const severityRank = (severity: Severity): number => SEVERITIES.length - SEVERITIES.indexOf(severity);

/** Parses SARIF 2.1.0 text; throws a SarifError naming the JSON path of the first problem. */
export function parseSarif(input: string | Uint8Array): SarifReport {
  const text = (typeof input === 'string' ? input : Buffer.from(input).toString('utf8')).replace(/^\uFEFF/, '');
  if (!text.trim()) throw new SarifError('invalid SARIF: the file is empty');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new SarifError(`invalid SARIF: not JSON (${(error as Error).message})`);
  }
  const root = object(document, 'the document');
  if (root.version !== '2.1.0') throw new SarifError(`invalid SARIF: version is ${JSON.stringify(root.version)}; only "2.1.0" is supported`);
  const runs = array(root.runs, 'runs');
  if (runs.length === 0) throw new SarifError('invalid SARIF: runs is empty: the scanner reported no run');
  const report: SarifReport = { scanner: '', findings: [], suppressed: 0 };
  const names = new Set<string>();
  runs.forEach((run, i) => names.add(readRun(run, `runs[${i}]`, report)));
  report.scanner = [...names].join(', ');
  return report;
}

type Json = Record<string, unknown>;

function readRun(value: unknown, path: string, report: SarifReport): string {
  const run = object(value, path);
  const driver = object(object(run.tool, `${path}.tool`).driver, `${path}.tool.driver`);
  const name = string(driver.name, `${path}.tool.driver.name`);
  const rules = optionalArray(driver.rules, `${path}.tool.driver.rules`).map((rule, i) => object(rule, `${path}.tool.driver.rules[${i}]`));
  const rulesById = new Map(rules.map((rule, i) => [string(rule.id, `${path}.tool.driver.rules[${i}].id`), rule]));
  // An absent results array means the tool did not report results, not that it found nothing.
  if (run.results === undefined || run.results === null) throw new SarifError(`invalid SARIF: ${path}.results is missing: the scanner reported no results`);
  array(run.results, `${path}.results`).forEach((result, i) => {
    const where = `${path}.results[${i}]`;
    const finding = readResult(object(result, where), where, rules, rulesById);
    if (finding === 'suppressed') report.suppressed++;
    else if (finding) report.findings.push(finding);
  });
  return name;
}

function readResult(result: Json, path: string, rules: Json[], rulesById: Map<string, Json>): Finding | 'suppressed' | null {
  const kind = optionalString(result.kind, `${path}.kind`) ?? 'fail';
  if (kind === 'pass' || kind === 'notApplicable') return null;
  if (isSuppressed(result, path)) return 'suppressed';
  const rule = ruleOf(result, path, rules, rulesById);
  const ruleId = optionalString(result.ruleId, `${path}.ruleId`) ?? (rule && optionalString(rule.id, `${path} rule id`));
  if (!ruleId) throw new SarifError(`invalid SARIF: ${path} names no rule (ruleId, rule.id or ruleIndex)`);
  const message = messageText(result, rule, path);
  const location = firstLocation(result, path);
  const fixAvailable = fixState(message) ?? fixState(rule ? helpText(rule, path) : undefined);
  return {
    ruleId,
    severity: severityOf(result, rule, kind, message, path),
    message,
    ...location,
    ...(fixAvailable === undefined ? {} : { fixAvailable }),
  };
}

function ruleOf(result: Json, path: string, rules: Json[], rulesById: Map<string, Json>): Json | undefined {
  const reference = result.rule === undefined ? {} : object(result.rule, `${path}.rule`);
  const index = result.ruleIndex ?? reference.index;
  if (index !== undefined && index !== -1) {
    if (!Number.isInteger(index) || !rules[index as number])
      throw new SarifError(`invalid SARIF: ${path}.ruleIndex ${JSON.stringify(index)} points to no rule (${rules.length} rules)`);
    return rules[index as number];
  }
  const id = optionalString(result.ruleId, `${path}.ruleId`) ?? optionalString(reference.id, `${path}.rule.id`);
  return id === undefined ? undefined : rulesById.get(id);
}

/** SARIF §3.27.23: suppressed when some suppression is accepted (or has no status) and none is still under review. */
function isSuppressed(result: Json, path: string): boolean {
  const statuses = optionalArray(result.suppressions, `${path}.suppressions`).map((s, i) => object(s, `${path}.suppressions[${i}]`).status);
  return statuses.length > 0 && !statuses.includes('underReview') && statuses.some((status) => status !== 'rejected');
}

function messageText(result: Json, rule: Json | undefined, path: string): string {
  const message = result.message === undefined ? {} : object(result.message, `${path}.message`);
  const text = optionalString(message.text, `${path}.message.text`) ?? optionalString(message.markdown, `${path}.message.markdown`);
  const description = rule?.shortDescription === undefined ? {} : object(rule.shortDescription, `${path} rule shortDescription`);
  const chosen = text ?? optionalString(description.text, `${path} rule shortDescription.text`);
  if (chosen === undefined) throw new SarifError(`invalid SARIF: ${path}.message has no text`);
  return chosen;
}

function firstLocation(result: Json, path: string): Pick<Finding, 'location' | 'line'> {
  const [first] = optionalArray(result.locations, `${path}.locations`);
  if (first === undefined) return { location: null, line: null };
  const where = `${path}.locations[0].physicalLocation`;
  const physical = object(first, `${path}.locations[0]`).physicalLocation;
  if (physical === undefined) return { location: null, line: null };
  const { artifactLocation, region } = object(physical, where);
  const uri =
    artifactLocation === undefined ? undefined : optionalString(object(artifactLocation, `${where}.artifactLocation`).uri, `${where}.artifactLocation.uri`);
  const line = region === undefined ? undefined : object(region, `${where}.region`).startLine;
  if (line !== undefined && !(Number.isInteger(line) && (line as number) > 0))
    throw new SarifError(`invalid SARIF: ${where}.region.startLine is ${JSON.stringify(line)}, not a line number`);
  return { location: uri ?? null, line: (line as number | undefined) ?? null };
}

const VENDOR_WORDS: Record<string, Severity> = { critical: 'critical', high: 'high', medium: 'medium', low: 'low', negligible: 'info' };
const LEVELS: Record<string, Severity> = { error: 'high', warning: 'medium', note: 'low', none: 'info' };

/** See docs/scans.md: the scanner's own rating, then security-severity (CVSS), then the SARIF level. */
function severityOf(result: Json, rule: Json | undefined, kind: string, message: string, path: string): Severity {
  const ruleProperties = rule?.properties === undefined ? {} : object(rule.properties, `${path} rule properties`);
  const resultProperties = result.properties === undefined ? {} : object(result.properties, `${path}.properties`);
  const tag = optionalArray(ruleProperties.tags, `${path} rule properties.tags`).find(
    (t): t is string => typeof t === 'string' && /^(CRITICAL|HIGH|MEDIUM|LOW)$/.test(t),
  );
  const vendor = tag ?? severityLine(message) ?? severityLine(rule ? helpText(rule, path) : undefined);
  if (vendor && VENDOR_WORDS[vendor.toLowerCase()]) return VENDOR_WORDS[vendor.toLowerCase()]!;
  const score = resultProperties['security-severity'] ?? ruleProperties['security-severity'];
  if (score !== undefined) return cvssSeverity(score, `${path} security-severity`);
  const level =
    result.level ?? (rule?.defaultConfiguration === undefined ? undefined : object(rule.defaultConfiguration, `${path} rule defaultConfiguration`).level);
  if (level === undefined) return kind === 'fail' ? 'medium' : 'info'; // SARIF's default level: warning for failures, none otherwise
  if (typeof level !== 'string' || !LEVELS[level])
    throw new SarifError(`invalid SARIF: ${path} level is ${JSON.stringify(level)}; expected none, note, warning or error`);
  return LEVELS[level]!;
}

/** CVSS score (number or numeric string): ≥9 critical, ≥7 high, ≥4 medium, >0 low, 0 info. */
export function cvssSeverity(score: unknown, what = 'security-severity'): Severity {
  const value = typeof score === 'number' ? score : typeof score === 'string' && score.trim() !== '' ? Number(score) : Number.NaN;
  if (!Number.isFinite(value) || value < 0 || value > 10) throw new SarifError(`invalid SARIF: ${what} is ${JSON.stringify(score)}, not a score from 0 to 10`);
  return value >= 9 ? 'critical' : value >= 7 ? 'high' : value >= 4 ? 'medium' : value > 0 ? 'low' : 'info';
}

const severityLine = (text: string | undefined) => text?.match(/^Severity: *(\w+)/m)?.[1];

/** Trivy: "Fixed Version: x" in the message; Grype: "Fix Version: x" in the rule help. Empty means no fix. */
function fixState(text: string | undefined): boolean | undefined {
  const match = text?.match(/^Fix(?:ed)? Version:[ \t]*(.*)$/m);
  return match ? match[1]!.trim() !== '' : undefined;
}

function helpText(rule: Json, path: string): string | undefined {
  return rule.help === undefined ? undefined : optionalString(object(rule.help, `${path} rule help`).text, `${path} rule help.text`);
}

/** The gate: does any finding reach `threshold`? With ignoreUnfixed, findings the scanner marks as unfixable do not count. */
export function evaluateGate(findings: readonly Finding[], threshold: GateThreshold, options: { ignoreUnfixed?: boolean } = {}): GateVerdict {
  if (threshold === 'none') return { passed: true, blocking: [], message: 'the gate is off (threshold none)' };
  const blocking = findings.filter((f) => severityRank(f.severity) >= severityRank(threshold) && !(options.ignoreUnfixed && f.fixAvailable === false));
  if (blocking.length === 0) return { passed: true, blocking, message: `no findings at or above ${threshold}` };
  const counts = SEVERITIES.map((s) => [s, blocking.filter((f) => f.severity === s).length] as const).filter(([, n]) => n > 0);
  const noun = blocking.length === 1 ? 'finding' : 'findings';
  return { passed: false, blocking, message: `${counts.map(([s, n]) => `${n} ${s}`).join(', ')} ${noun} at or above ${threshold}` };
}

export function summarize(findings: readonly Finding[]): SeveritySummary {
  const summary: SeveritySummary = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
  for (const finding of findings) summary[finding.severity]++;
  return summary;
}

/** The step's view of a report: ignoreUnfixed drops unfixable findings from the counts too, as the scanners' own flags do. */
export function scanResult(report: SarifReport, threshold: GateThreshold, options: { ignoreUnfixed?: boolean } = {}): ScanResult {
  const findings = options.ignoreUnfixed ? report.findings.filter((f) => f.fixAvailable !== false) : report.findings;
  const gate = evaluateGate(findings, threshold);
  return {
    scanner: report.scanner,
    findings,
    summary: summarize(findings),
    findingsCount: findings.length,
    passedGate: gate.passed,
    gate,
    ignoredUnfixed: report.findings.length - findings.length,
    suppressed: report.suppressed,
  };
}

function object(value: unknown, path: string): Json {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  throw new SarifError(`invalid SARIF: ${path} must be an object, got ${describe(value)}`);
}

function array(value: unknown, path: string): unknown[] {
  if (Array.isArray(value)) return value;
  throw new SarifError(`invalid SARIF: ${path} must be an array, got ${describe(value)}`);
}

const optionalArray = (value: unknown, path: string): unknown[] => (value === undefined ? [] : array(value, path));

function string(value: unknown, path: string): string {
  if (typeof value === 'string') return value;
  throw new SarifError(`invalid SARIF: ${path} must be a string, got ${describe(value)}`);
}

const optionalString = (value: unknown, path: string): string | undefined => (value === undefined ? undefined : string(value, path));

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}
