// SARIF parsing and gates against real Semgrep, Trivy and Grype output (tests/fixtures/sarif/, copied from the project's shared reference fixtures).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  type Finding,
  type SarifReport,
  type SeveritySummary,
  SarifError,
  cvssSeverity,
  evaluateGate,
  parseSarif,
  scanResult,
} from '../../runners/scan/sarif.ts';
import { seededRandom } from '../helpers/fuzz.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/sarif/', import.meta.url));

/** Counts by severity per fixture, read off the files (see docs/scans.md for the mapping); fix = fixed / unfixed / unknown. */
const EXPECTED: Record<string, { scanner: string; summary: SeveritySummary; fix: [number, number, number]; fixedOnly?: SeveritySummary }> = {
  'grype-clean.sarif': { scanner: 'grype', summary: counts(0, 0, 0, 0), fix: [0, 0, 0] },
  'grype-python-image.sarif': { scanner: 'grype', summary: counts(0, 2, 6, 2), fix: [0, 10, 0], fixedOnly: counts(0, 0, 0, 0) },
  'grype-traefik-image.sarif': { scanner: 'Grype', summary: counts(2, 16, 9, 1), fix: [8, 20, 0], fixedOnly: counts(0, 4, 3, 1) },
  'semgrep-fips-c.sarif': { scanner: 'Semgrep OSS', summary: counts(0, 0, 10, 0), fix: [0, 0, 10] },
  'semgrep-js-custom.sarif': { scanner: 'Semgrep OSS', summary: counts(0, 2, 1, 0), fix: [0, 0, 3] },
  'semgrep-norules-python.sarif': { scanner: 'Semgrep OSS', summary: counts(0, 0, 5, 0), fix: [0, 0, 5] },
  'semgrep-webgoat-java.sarif': { scanner: 'semgrep', summary: counts(0, 13, 24, 0), fix: [0, 0, 37] },
  'trivy-clean.sarif': { scanner: 'Trivy', summary: counts(0, 0, 0, 0), fix: [0, 0, 0] },
  'trivy-image-apache.sarif': { scanner: 'Trivy', summary: counts(0, 1, 0, 6), fix: [6, 0, 1] },
  'trivy-image-ms-validate-user.sarif': { scanner: 'Trivy', summary: counts(5, 23, 14, 0), fix: [42, 0, 0] },
};

function counts(critical: number, high: number, medium: number, low: number, info = 0): SeveritySummary {
  return { critical, high, medium, low, info };
}

function fixture(name: string): SarifReport {
  const file = `${FIXTURES}${name}`;
  assert.ok(existsSync(file), `SARIF fixture ${file} is missing: the fixtures live in tests/fixtures/sarif/`);
  return parseSarif(readFileSync(file));
}

const find = (report: SarifReport, predicate: (f: Finding) => boolean) => {
  const found = report.findings.filter(predicate);
  assert.equal(found.length, 1, `expected one matching finding, got ${found.length}`);
  return found[0]!;
};

test('every fixture file is covered by the expectations', () => {
  assert.ok(existsSync(FIXTURES), `SARIF fixtures folder ${FIXTURES} is missing (expected tests/fixtures/sarif/)`);
  assert.deepEqual(
    readdirSync(FIXTURES)
      .filter((name) => name.endsWith('.sarif'))
      .sort(),
    Object.keys(EXPECTED).sort(),
  );
});

for (const [name, expected] of Object.entries(EXPECTED)) {
  test(`${name}: counts by severity, fix information, gates`, () => {
    const report = fixture(name);
    assert.equal(report.scanner, expected.scanner);
    const result = scanResult(report, 'high');
    assert.deepEqual(result.summary, expected.summary);
    const total = Object.values(expected.summary).reduce((a, b) => a + b, 0);
    assert.equal(result.findingsCount, total);
    const fix = [true, false, undefined].map((state) => report.findings.filter((f) => f.fixAvailable === state).length);
    assert.deepEqual(fix, expected.fix);
    for (const f of report.findings) assert.ok(f.ruleId && f.message && f.location && f.line, `incomplete finding ${JSON.stringify(f).slice(0, 200)}`);

    const atOrAbove = (...severities: (keyof SeveritySummary)[]) => severities.reduce((sum, s) => sum + expected.summary[s], 0);
    assert.equal(evaluateGate(report.findings, 'critical').passed, atOrAbove('critical') === 0);
    assert.equal(evaluateGate(report.findings, 'high').passed, atOrAbove('critical', 'high') === 0);
    assert.equal(evaluateGate(report.findings, 'medium').blocking.length, atOrAbove('critical', 'high', 'medium'));
    assert.equal(evaluateGate(report.findings, 'info').blocking.length, total);
    assert.equal(evaluateGate(report.findings, 'none').passed, true);

    const fixedOnly = scanResult(report, 'high', { ignoreUnfixed: true });
    assert.deepEqual(fixedOnly.summary, expected.fixedOnly ?? expected.summary);
    assert.equal(fixedOnly.ignoredUnfixed, expected.fix[1]);
  });
}

test('gate messages name the blocking counts', () => {
  assert.equal(evaluateGate(fixture('semgrep-js-custom.sarif').findings, 'high').message, '2 high findings at or above high');
  assert.equal(evaluateGate(fixture('trivy-image-apache.sarif').findings, 'high').message, '1 high finding at or above high');
  assert.equal(
    evaluateGate(fixture('trivy-image-ms-validate-user.sarif').findings, 'medium').message,
    '5 critical, 23 high, 14 medium findings at or above medium',
  );
  assert.equal(evaluateGate(fixture('semgrep-fips-c.sarif').findings, 'high').message, 'no findings at or above high');
});

test('ignore_unfixed drops only findings the scanner marks as unfixed', () => {
  const traefik = fixture('grype-traefik-image.sarif').findings;
  assert.equal(evaluateGate(traefik, 'critical').passed, false);
  assert.equal(evaluateGate(traefik, 'critical', { ignoreUnfixed: true }).passed, true); // both criticals have no fix
  assert.equal(evaluateGate(traefik, 'high', { ignoreUnfixed: true }).message, '4 high findings at or above high');
  // Trivy's secret finding says nothing about fixes: it still counts.
  const apache = evaluateGate(fixture('trivy-image-apache.sarif').findings, 'high', { ignoreUnfixed: true });
  assert.deepEqual(
    apache.blocking.map((f) => f.ruleId),
    ['private-key'],
  );
  assert.equal(evaluateGate(fixture('grype-python-image.sarif').findings, 'low', { ignoreUnfixed: true }).passed, true);
});

test('hand-picked findings', () => {
  const apache = fixture('trivy-image-apache.sarif');
  const libc = apache.findings[0]!;
  assert.deepEqual(
    { ...libc, message: libc.message.split('\n')[0] },
    { ruleId: 'CVE-2009-5155', severity: 'low', message: 'Package: libc-bin', location: 'library/apache', line: 1, fixAvailable: true },
  );
  const secret = find(apache, (f) => f.ruleId === 'private-key');
  assert.equal(secret.severity, 'high');
  assert.equal(secret.location, '/etc/ssl/private/ssl-cert-snakeoil.key');
  assert.equal('fixAvailable' in secret, false);

  const trivy = fixture('trivy-image-ms-validate-user.sarif');
  assert.equal(find(trivy, (f) => f.ruleId === 'CVE-2022-28391' && f.message.startsWith('Package: busybox')).severity, 'high');

  // Grype's own rating wins over the CVSS score: 0.0 means "no score" here, and GitHub advisories rate some 9.8s high.
  const python = find(fixture('grype-python-image.sarif'), (f) => f.ruleId === 'CVE-2026-3479-python-3.12');
  assert.deepEqual([python.severity, python.fixAvailable, python.location], ['low', false, 'python//usr/lib/apk/db/installed']);
  const traefik = fixture('grype-traefik-image.sarif');
  assert.deepEqual(
    pick(
      find(traefik, (f) => f.ruleId === 'GHSA-hrhx-6h34-j5hc-github.com/traefik/traefik/v2'),
      'fixAvailable',
    ),
    ['high', true],
  );
  assert.deepEqual(
    pick(
      find(traefik, (f) => f.ruleId === 'GHSA-m697-4v8f-55qg-github.com/traefik/traefik/v2'),
      'fixAvailable',
    ),
    ['medium', true],
  );
  assert.deepEqual(
    pick(
      find(traefik, (f) => f.ruleId === 'CVE-2022-23632-github.com/traefik/traefik/v2'),
      'fixAvailable',
    ),
    ['critical', false],
  );

  const js = fixture('semgrep-js-custom.sarif');
  assert.deepEqual(
    js.findings.map((f) => [f.ruleId, f.severity, `${f.location}:${f.line}`]),
    [
      ['semgrep.js-ts-child-process-exec', 'high', 'scripts/repo_audit.mjs:29'],
      ['semgrep.js-ts-child-process-exec', 'high', 'test-repos/driftguard-test-repo/src/problematic-code.js:37'],
      ['semgrep.js-ts-avoid-eval', 'medium', 'test-repos/driftguard-test-repo/src/problematic-code.js:51'],
    ],
  );
  const webgoat = fixture('semgrep-webgoat-java.sarif').findings;
  assert.deepEqual(pick(webgoat[0]!, 'location', 'line'), ['medium', 'src/main/java/org/owasp/webgoat/lessons/Encoding.java', 325]);
  assert.deepEqual(pick(webgoat[2]!, 'ruleId'), ['high', 'java.lang.security.audit.formatted-sql-string.formatted-sql-string']);
  // No rules at all: SARIF's default level for a failing result is warning.
  const norules = fixture('semgrep-norules-python.sarif').findings[0]!;
  assert.deepEqual(pick(norules, 'ruleId', 'location', 'line'), ['medium', 'dockerfile.security.missing-user.missing-user', 'Dockerfile', 22]);
});

/** [severity, ...the named fields] of a finding. */
function pick(finding: Finding, ...keys: (keyof Finding)[]): unknown[] {
  return [finding.severity, ...keys.map((key) => finding[key])];
}

test('CVSS thresholds', () => {
  const cases: Array<[unknown, string]> = [
    [10, 'critical'],
    ['9.0', 'critical'],
    [8.9, 'high'],
    ['7.0', 'high'],
    [6.9, 'medium'],
    [4, 'medium'],
    [3.9, 'low'],
    ['0.1', 'low'],
    [0, 'info'],
    ['0.0', 'info'],
  ];
  for (const [score, severity] of cases) assert.equal(cvssSeverity(score), severity, `score ${String(score)}`);
  for (const bad of ['high', '', 10.5, -1, null, Number.NaN]) assert.throws(() => cvssSeverity(bad), SarifError);
});

/** A one-run SARIF document around `results` (and optional rules). */
function sarif(results: unknown[], rules?: unknown[]): string {
  return JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'test', ...(rules ? { rules } : {}) } }, results }] });
}

test('precedence: scanner rating, then security-severity on the result or rule, then level', () => {
  const rules = [
    { id: 'tagged', properties: { tags: ['security', 'HIGH'], 'security-severity': '9.8' }, defaultConfiguration: { level: 'note' } },
    { id: 'scored', properties: { 'security-severity': '9.1' }, defaultConfiguration: { level: 'note' } },
    { id: 'levelled', defaultConfiguration: { level: 'error' } },
    { id: 'negligible', help: { text: 'Severity: negligible\nFix Version: 1.2' } },
  ];
  const report = parseSarif(
    sarif(
      [
        { ruleId: 'tagged', message: { text: 'a' } },
        { ruleId: 'scored', message: { text: 'b' } },
        { ruleId: 'scored', message: { text: 'c' }, properties: { 'security-severity': 5 } },
        { ruleId: 'levelled', message: { text: 'd' } },
        { ruleId: 'levelled', level: 'none', message: { text: 'e' } },
        { ruleId: 'negligible', message: { text: 'f' } },
        { ruleId: 'unknown', kind: 'review', message: { text: 'g' } },
      ],
      rules,
    ),
  );
  assert.deepEqual(
    report.findings.map((f) => f.severity),
    ['high', 'critical', 'medium', 'high', 'info', 'info', 'info'],
  );
  assert.equal(report.findings[5]!.fixAvailable, true);
});

test('suppressed and passing results are not findings', () => {
  const result = (extra: object) => ({ ruleId: 'r', level: 'error', message: { text: 'm' }, ...extra });
  const report = parseSarif(
    sarif([
      result({ suppressions: [{ kind: 'inSource' }] }),
      result({ suppressions: [{ kind: 'external', status: 'accepted' }] }),
      result({ suppressions: [{ kind: 'external', status: 'underReview' }] }),
      result({ suppressions: [{ kind: 'external', status: 'rejected' }] }),
      result({ kind: 'pass' }),
      result({ kind: 'notApplicable' }),
      result({}),
    ]),
  );
  assert.equal(report.suppressed, 2);
  assert.equal(report.findings.length, 3);
});

test('malformed input fails with a message naming the problem', () => {
  const good = { ruleId: 'r', message: { text: 'm' } };
  const cases: Array<[string | Uint8Array, RegExp]> = [
    ['', /the file is empty/],
    ['{"version": "2.1.0", "runs": [', /not JSON/],
    [readFileSync(`${FIXTURES}semgrep-webgoat-java.sarif`).subarray(0, 5000), /not JSON/],
    ['[]', /the document must be an object, got an array/],
    ['{"version": "2.0.0", "runs": []}', /version is "2.0.0"; only "2.1.0"/],
    ['{"version": "2.1.0"}', /runs must be an array, got nothing/],
    ['{"version": "2.1.0", "runs": []}', /runs is empty/],
    ['{"version": "2.1.0", "runs": [{"results": []}]}', /runs\[0\]\.tool must be an object/],
    ['{"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}', /runs\[0\]\.tool\.driver\.name must be a string/],
    ['{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}}]}', /runs\[0\]\.results is missing/],
    [sarif([5]), /runs\[0\]\.results\[0\] must be an object, got number 5/],
    [sarif([good, { ...good, level: 'fatal' }]), /runs\[0\]\.results\[1\] level is "fatal"/],
    [sarif([{ ...good, properties: { 'security-severity': 'high' } }]), /security-severity is "high", not a score/],
    [sarif([{ ...good, ruleIndex: 7 }], [{ id: 'r' }]), /ruleIndex 7 points to no rule \(1 rules\)/],
    [sarif([{ message: { text: 'm' } }]), /results\[0\] names no rule/],
    [sarif([{ ruleId: 'r' }]), /results\[0\]\.message has no text/],
    [sarif([{ ...good, locations: [{ physicalLocation: { region: { startLine: 0 } } }] }]), /region\.startLine is 0/],
    [sarif([good], [{ id: 3 }]), /rules\[0\]\.id must be a string/],
  ];
  for (const [input, pattern] of cases) {
    assert.throws(
      () => parseSarif(input),
      (error: unknown) => error instanceof SarifError && pattern.test(error.message) && error.message.startsWith('invalid SARIF: '),
      `${String(pattern)}`,
    );
  }
  assert.equal(parseSarif(`\uFEFF${sarif([good])}`).findings.length, 1);
});

test('randomly damaged fixtures parse or fail with a SarifError, never crash', () => {
  const JUNK: unknown[] = [null, 0, -1, 3.5, '', 'x', 'error', '9.9', true, [], {}, [null], { text: 5 }];
  const documents = Object.keys(EXPECTED).map((name) => JSON.parse(readFileSync(`${FIXTURES}${name}`, 'utf8')) as unknown);
  for (let seed = 1; seed <= 1500; seed++) {
    const random = seededRandom(seed);
    const document = structuredClone(documents[seed % documents.length]);
    for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) damage(document, random, JUNK);
    try {
      parseSarif(JSON.stringify(document));
    } catch (error) {
      assert.ok(error instanceof SarifError, `seed ${seed}: ${(error as Error).stack}`);
    }
  }
});

/** Replaces or deletes one value somewhere in `document`, usually deep inside (results, rules, locations). */
function damage(document: unknown, random: () => number, junk: unknown[]): void {
  let node = document as Record<string, unknown>;
  for (let depth = 0; depth < 12; depth++) {
    const keys = Object.keys(node);
    const containers = keys.filter((key) => typeof node[key] === 'object' && node[key] !== null);
    const descend = containers.length > 0 && random() < 0.85;
    const candidates = descend ? containers : keys;
    if (candidates.length === 0) return;
    const key = candidates[Math.floor(random() * candidates.length)]!;
    if (descend) {
      node = node[key] as Record<string, unknown>;
      continue;
    }
    if (random() < 0.3 && !Array.isArray(node)) delete node[key];
    else node[key] = junk[Math.floor(random() * junk.length)];
    return;
  }
}
