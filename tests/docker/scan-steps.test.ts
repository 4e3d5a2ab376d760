// Drives step.scan_sast, step.scan_container and step.scan_deps on the real Docker engine. Scanner images
// cannot be pulled here, so a local "fake scanner" image stands in for all three: it is installed where the
// real binaries are (semgrep, trivy, /grype), reads the same command line the real CLIs get and fails on
// anything else, checks its inputs (scan targets, the docker-save tarball, offline settings) and its
// confinement (no socket, no network, only CAP_DAC_READ_SEARCH), and writes a real SARIF fixture to the
// --output / --file path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerClient, describeDockerHost, imageExists, pingDocker } from '../../runners/docker/engine.ts';
import { runShellStep } from '../../runners/docker/shell-exec.ts';
import { createWorkspaceVolume, removeWorkspaceVolume } from '../../runners/docker/workspace.ts';
import { scanContainer, scanDeps, scanSast } from '../../runners/executors/scan.ts';
import type { StepExecutor, StepResult } from '../../runners/executors/types.ts';
import type { JobSpec } from '../../runners/protocol/v1.ts';
import { testJobSpec } from '../helpers/job-spec.ts';
import { buildFakeScannerImage, SARIF_FIXTURES } from '../helpers/fake-scanner.ts';

const BASE_IMAGE = 'flowyard/busybox:latest';
const FIXTURES = SARIF_FIXTURES;
const docker = createDockerClient();
const suffix = randomUUID().slice(0, 8);
const runId = `scan-steps-${suffix}`;
const FAKE_SCANNER = `flowyard-test/fake-scanner:${suffix}`;
let workspaceVolume = '';
let tempDir = '';
let stepIndex = 0;

interface Upload {
  key: string;
  bytes: Buffer;
}

interface StepRun {
  result: StepResult;
  output: string;
  lines: string[];
  uploads: Upload[];
  durationMs: number;
}

function jobSpec(): JobSpec {
  return testJobSpec({ runId, workflow: 'scan-steps-test', pipeline: 'scan' });
}

async function runStep(
  executor: StepExecutor,
  name: string,
  config: Record<string, unknown>,
  env: Record<string, string>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<StepRun> {
  const startedAt = performance.now();
  const chunks: string[] = [];
  const lines: string[] = [];
  const uploads: Upload[] = [];
  const result = await executor({
    job: jobSpec(),
    step: { index: stepIndex++, name, type: 'test', config, timeoutMs: options.timeoutMs ?? null, continueOnError: false },
    config,
    context: {},
    env,
    docker,
    workspaceVolume,
    helperImage: BASE_IMAGE,
    tempDir,
    artifacts: {
      async upload(key, file) {
        const bytes = await readFile(file as string);
        uploads.push({ key, bytes });
        return { key, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
      },
      download: () => Promise.reject(new Error('no downloads in these tests')),
    },
    output: (bytes) => chunks.push(Buffer.from(bytes).toString('utf8')),
    log: (line) => lines.push(line),
    signal: options.signal ?? new AbortController().signal,
  });
  return { result, output: chunks.join(''), lines, uploads, durationMs: performance.now() - startedAt };
}

const fixtureBytes = (name: string) => readFile(join(FIXTURES, name));

/** No container of this step is left, and the runner's temporary files are gone. */
async function assertCleanedUp(step: string): Promise<void> {
  const left = await docker.listContainers({ all: true, filters: { label: [`flowyard.run=${runId}`, `flowyard.step=${step}`] } });
  assert.deepEqual(
    left.map((c) => c.Id),
    [],
    `containers of step ${step} left behind`,
  );
  assert.deepEqual(await readdir(tempDir), [], 'temporary files left behind');
}

async function buildFakeScanner(): Promise<void> {
  await buildFakeScannerImage(docker, FAKE_SCANNER, { labels: { 'flowyard.run': runId } });
}

before(async () => {
  if (!(await pingDocker(docker))) assert.fail(`Docker engine not reachable at ${describeDockerHost()}: run "bash scripts/setup/docker.sh" first`);
  assert.ok(await imageExists(docker, BASE_IMAGE), `image ${BASE_IMAGE} missing: run "bash scripts/setup/docker.sh" first`);
  assert.ok((await readdir(FIXTURES).catch(() => [])).length > 0, `SARIF fixtures missing at ${FIXTURES} (expected tests/fixtures/sarif/)`);
  tempDir = await mkdtemp(join(tmpdir(), 'flowyard-scan-steps-'));
  workspaceVolume = await createWorkspaceVolume(docker, runId, { 'flowyard.run': runId });
  await buildFakeScanner();
  const prepared = await runShellStep(
    docker,
    {
      image: BASE_IMAGE,
      workspaceVolume,
      labels: { 'flowyard.run': runId },
      commands: ['mkdir -p src', 'echo "eval(input)" > src/app.js', 'echo "rules: []" > .semgrep.yml'],
    },
    { onOutput: () => undefined },
  );
  assert.equal(prepared.status, 'succeeded', prepared.error);
});

after(async () => {
  for (const container of await docker.listContainers({ all: true, filters: { label: [`flowyard.run=${runId}`] } })) {
    await docker.getContainer(container.Id).remove({ force: true });
  }
  if (await imageExists(docker, FAKE_SCANNER)) await docker.getImage(FAKE_SCANNER).remove({ force: true });
  if (workspaceVolume) await removeWorkspaceVolume(docker, workspaceVolume);
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});

test('scan_sast runs semgrep with its SARIF arguments, stores the report and fails the gate on high findings', async () => {
  const run = await runStep(
    scanSast,
    'sast',
    { scanner_image: FAKE_SCANNER, rules: '.semgrep.yml', paths: ['src'] },
    {
      FAKE_SARIF: 'semgrep-js-custom.sarif',
      FAKE_EXPECT_ARGS: 'scan --config .semgrep.yml --sarif --output /workspace/.flowyard/scans/sast.sarif --metrics=off --disable-version-check src',
    },
  );
  assert.equal(run.result.state, 'failed', `${run.result.error}\n${run.output}`);
  assert.equal(run.result.error, 'gate failed: 2 high findings at or above high');
  const outputs = run.result.outputs!;
  assert.deepEqual([outputs.passed_gate, outputs.findings_count, outputs.sarif_key], [false, 3, 'sarif/sast.sarif']);
  assert.deepEqual(outputs.summary, { critical: 0, high: 2, medium: 1, low: 0, info: 0 });
  assert.deepEqual(
    (outputs.findings as Array<{ severity: string; line: number }>).map((f) => `${f.severity}:${f.line}`),
    ['high:29', 'high:37', 'medium:51'],
  );
  assert.deepEqual(
    run.uploads.map((u) => u.key),
    ['sarif/sast.sarif'],
  );
  assert.ok(run.uploads[0]!.bytes.equals(await fixtureBytes('semgrep-js-custom.sarif')), 'uploaded SARIF differs from what the scanner wrote');
  assert.match(run.output, /fake semgrep: wrote \/workspace\/\.flowyard\/scans\/sast\.sarif/);
  assert.ok(
    run.lines.some((line) => line.includes('scripts/repo_audit.mjs:29')),
    run.lines.join('\n'),
  );
  assert.ok(
    run.lines.some((line) => line.includes('\x1b[1;31m✘ gate failed: 2 high findings')),
    run.lines.join('\n'),
  );
  await assertCleanedUp('sast');
});

test('scan_sast passes the gate below its threshold and reads back a large report', async () => {
  const run = await runStep(
    scanSast,
    'sast-webgoat',
    { scanner_image: FAKE_SCANNER, rules: '.semgrep.yml', fail_on_severity: 'critical' },
    { FAKE_SARIF: 'semgrep-webgoat-java.sarif' },
  );
  assert.equal(run.result.state, 'succeeded', `${run.result.error}\n${run.output}`);
  assert.deepEqual(run.result.outputs?.summary, { critical: 0, high: 13, medium: 24, low: 0, info: 0 });
  assert.equal(run.result.outputs?.passed_gate, true);
  assert.ok(run.uploads[0]!.bytes.equals(await fixtureBytes('semgrep-webgoat-java.sarif')));
  assert.ok(
    run.lines.some((line) => line.includes('… 27 more in the SARIF report (artifact sarif/sast-webgoat.sarif)')),
    run.lines.join('\n'),
  );
  await assertCleanedUp('sast-webgoat');
});

test('scan_container gives trivy a docker-save tarball of the target, no socket, and honours ignore_unfixed', async () => {
  const run = await runStep(
    scanContainer,
    'image',
    { scanner_image: FAKE_SCANNER, target_image: BASE_IMAGE, ignore_unfixed: true },
    {
      FAKE_SARIF: 'trivy-image-apache.sarif',
      FAKE_TARGET: BASE_IMAGE,
      FAKE_EXPECT_ARGS:
        'image --input /flowyard/target-image.tar --format sarif --output /workspace/.flowyard/scans/image.sarif --skip-db-update --skip-java-db-update --offline-scan --no-progress --ignore-unfixed',
    },
  );
  // The secret finding has no fix information, so ignore_unfixed keeps it.
  assert.equal(run.result.error, 'gate failed: 1 high finding at or above high', run.output);
  assert.deepEqual(run.result.outputs?.summary, { critical: 0, high: 1, medium: 0, low: 6, info: 0 });
  assert.ok(run.uploads[0]!.bytes.equals(await fixtureBytes('trivy-image-apache.sarif')));
  await assertCleanedUp('image');

  const critical = await runStep(
    scanContainer,
    'image-critical',
    { scanner_image: FAKE_SCANNER, target_image: BASE_IMAGE, severity_threshold: 'critical' },
    { FAKE_SARIF: 'trivy-image-ms-validate-user.sarif', FAKE_TARGET: BASE_IMAGE },
  );
  assert.equal(critical.result.error, 'gate failed: 5 critical findings at or above critical', critical.output);
  assert.equal(critical.result.outputs?.findings_count, 42);
  assert.doesNotMatch(critical.output, /--ignore-unfixed/);
  await assertCleanedUp('image-critical');
});

test('scan_deps runs grype offline on a workspace folder and drops unfixed findings with ignore_unfixed', async () => {
  const run = await runStep(
    scanDeps,
    'deps',
    { scanner_image: FAKE_SCANNER, path: 'src', fail_on_severity: 'critical', ignore_unfixed: true },
    {
      FAKE_SARIF: 'grype-traefik-image.sarif',
      FAKE_EXPECT_ARGS: 'dir:/workspace/src -o sarif --file /workspace/.flowyard/scans/deps.sarif --only-fixed',
    },
  );
  assert.equal(run.result.state, 'succeeded', `${run.result.error}\n${run.output}`);
  assert.deepEqual(run.result.outputs?.summary, { critical: 0, high: 4, medium: 3, low: 1, info: 0 });
  assert.equal(run.result.outputs?.findings_count, 8);
  assert.ok(
    run.lines.some((line) => line.includes('20 findings without a fixed version ignored')),
    run.lines.join('\n'),
  );
  assert.ok(run.uploads[0]!.bytes.equals(await fixtureBytes('grype-traefik-image.sarif')));
  await assertCleanedUp('deps');
});

test('the reports stay in the workspace and the image tarball does not', async () => {
  const chunks: string[] = [];
  const listed = await runShellStep(
    docker,
    {
      image: BASE_IMAGE,
      workspaceVolume,
      labels: { 'flowyard.run': runId },
      commands: ['ls /workspace/.flowyard/scans', 'find /workspace -name "*.tar" | wc -l'],
    },
    { onOutput: (chunk) => chunks.push(Buffer.from(chunk).toString()) },
  );
  assert.equal(listed.status, 'succeeded');
  assert.match(chunks.join(''), /deps\.sarif\nimage-critical\.sarif\nimage\.sarif\nsast-webgoat\.sarif\nsast\.sarif\n[^\n]*\n\s*0\n/);
});

test('scanner failures, wrong arguments and broken reports fail the step clearly', async () => {
  const wrongArgs = await runStep(
    scanSast,
    'sast-args',
    { scanner_image: FAKE_SCANNER, rules: '.semgrep.yml' },
    { FAKE_SARIF: 'semgrep-fips-c.sarif', FAKE_EXPECT_ARGS: 'scan --json' },
  );
  assert.deepEqual([wrongArgs.result.state, wrongArgs.result.exitCode, wrongArgs.result.error], ['failed', 2, 'semgrep: the scanner exited with code 2']);
  assert.match(wrongArgs.output, /unexpected arguments/);
  assert.deepEqual(wrongArgs.uploads, []);
  await assertCleanedUp('sast-args');

  const broken = await runStep(scanDeps, 'deps-broken', { scanner_image: FAKE_SCANNER }, { FAKE_SARIF: 'broken.sarif' });
  assert.equal(broken.result.state, 'failed');
  assert.equal(broken.result.error, 'grype: invalid SARIF: runs[0].tool must be an object, got nothing');
  assert.deepEqual(
    broken.uploads.map((u) => u.key),
    ['sarif/deps-broken.sarif'],
    'a broken report is still kept for inspection',
  );
  await assertCleanedUp('deps-broken');

  const missingTarget = await runStep(scanContainer, 'image-missing', { scanner_image: FAKE_SCANNER, target_image: '127.0.0.1:1/missing:1' }, {});
  assert.equal(missingTarget.result.state, 'failed');
  assert.match(
    missingTarget.result.error ?? '',
    /^could not save target_image 127\.0\.0\.1:1\/missing:1: image "127\.0\.0\.1:1\/missing:1" not found locally and pull failed/,
  );
  await assertCleanedUp('image-missing');

  await assert.rejects(
    runStep(scanSast, 'sast-registry', { scanner_image: FAKE_SCANNER, rules: 'auto' }, {}),
    /rules "auto" come from the Semgrep registry, which scanner containers cannot reach/,
  );
  await assert.rejects(runStep(scanDeps, 'deps-outside', { scanner_image: FAKE_SCANNER, path: '../etc' }, {}), /path "..\/etc" is outside \/workspace/);
});

test('a scan is stopped at its timeout and on cancel, and its container removed', async () => {
  const env = { FAKE_SARIF: 'grype-clean.sarif', FAKE_SLEEP: '30' };
  const timedOut = await runStep(scanDeps, 'deps-slow', { scanner_image: FAKE_SCANNER }, env, { timeoutMs: 1000 });
  assert.deepEqual([timedOut.result.state, timedOut.result.error], ['timed_out', 'scan timed out after 1000 ms']);
  assert.ok(timedOut.durationMs < 10_000, `took ${timedOut.durationMs} ms`);
  await assertCleanedUp('deps-slow');

  const controller = new AbortController();
  setTimeout(() => controller.abort(), 1000);
  const cancelled = await runStep(scanDeps, 'deps-cancel', { scanner_image: FAKE_SCANNER }, env, { signal: controller.signal });
  assert.equal(cancelled.result.state, 'cancelled');
  assert.ok(cancelled.durationMs < 10_000, `took ${cancelled.durationMs} ms`);
  assert.deepEqual(cancelled.uploads, []);
  await assertCleanedUp('deps-cancel');
});
