// The scan summary written to the step log: counts by severity, the worst findings, the gate verdict.
import { SEVERITIES, type Finding, type GateThreshold, type ScanResult, type Severity, severityRank } from './sarif.ts';

const COLOURS: Record<Severity, string> = { critical: '\x1b[1;35m', high: '\x1b[1;31m', medium: '\x1b[33m', low: '\x1b[36m', info: '\x1b[2m' };
const RESET = '\x1b[0m';
const TOP_FINDINGS = 10;
const MESSAGE_WIDTH = 100;

/** Worst first; the scanner's order among equals. */
export function bySeverity(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
}

export function formatReport(result: ScanResult, threshold: GateThreshold, sarifKey: string): string[] {
  const counts = SEVERITIES.map((s) => (result.summary[s] ? `${COLOURS[s]}${s} ${result.summary[s]}${RESET}` : `${s} 0`)).join(', ');
  const lines = [`${result.scanner}: ${result.findingsCount} ${result.findingsCount === 1 ? 'finding' : 'findings'} (${counts})`];
  if (result.ignoredUnfixed) lines.push(`${result.ignoredUnfixed} findings without a fixed version ignored (ignore_unfixed)`);
  if (result.suppressed) lines.push(`${result.suppressed} findings suppressed in the source, not counted`);
  const sorted = bySeverity(result.findings);
  for (const finding of sorted.slice(0, TOP_FINDINGS)) lines.push(`  ${formatFinding(finding)}`);
  if (sorted.length > TOP_FINDINGS) lines.push(`  … ${sorted.length - TOP_FINDINGS} more in the SARIF report (artifact ${sarifKey})`);
  lines.push(
    result.passedGate ? `\x1b[1;32m✔ gate passed (${threshold}): ${result.gate.message}${RESET}` : `\x1b[1;31m✘ gate failed: ${result.gate.message}${RESET}`,
  );
  return lines;
}

function formatFinding(finding: Finding): string {
  const where = finding.location ? `${finding.location}${finding.line ? `:${finding.line}` : ''}` : '(no location)';
  const firstLine = finding.message.split('\n', 1)[0]!.trim();
  const message = firstLine.length > MESSAGE_WIDTH ? `${firstLine.slice(0, MESSAGE_WIDTH - 1)}…` : firstLine;
  return `${COLOURS[finding.severity]}${finding.severity.toUpperCase().padEnd(8)}${RESET} ${where}  ${finding.ruleId}  ${message}`;
}
