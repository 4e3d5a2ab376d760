// The examples/scan-approve-deploy.yaml pipeline end to end on the real engine: build an image, scan it,
// wait for approval, deploy it blue-green. The scanner images cannot be pulled here, so the fake scanner
// (tests/helpers/fake-scanner.ts) is tagged with the real scanners' default names for the run and removed after.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { RunningRunner } from '../../runners/daemon/daemon.ts';
import { DEFAULT_SCANNER_IMAGES } from '../../runners/scan/scanners.ts';
import { buildFakeScannerImage } from '../helpers/fake-scanner.ts';
import { docker, finished, json, publishWorkflow, rawLog, runnerFor, waitForRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const example = readFileSync(new URL('../../examples/scan-approve-deploy.yaml', import.meta.url), 'utf8');
let server: TestServer;
let runner: RunningRunner;

before(async () => {
  await buildFakeScannerImage(docker, DEFAULT_SCANNER_IMAGES.semgrep, { env: { FAKE_SARIF: 'semgrep-webgoat-java.sarif' } });
  await buildFakeScannerImage(docker, DEFAULT_SCANNER_IMAGES.trivy, { env: { FAKE_SARIF: 'trivy-clean.sarif', FAKE_TARGET: 'demo-web:1.4' } });
  server = await startTestServer();
  runner = await runnerFor(server, 'delivery', ['linux', 'docker']);
});

after(async () => {
  await runner?.stop();
  await server?.close();
  for (const image of [DEFAULT_SCANNER_IMAGES.semgrep, DEFAULT_SCANNER_IMAGES.trivy, 'demo-web:1.4']) {
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
  }
  const deployed = await docker.listContainers({ all: true, filters: { label: ['flowyard.app=demo-web'] } });
  await Promise.all(deployed.map((c) => docker.getContainer(c.Id).remove({ force: true })));
});

test('the example builds, scans, waits for approval and deploys blue-green', { timeout: 240_000 }, async () => {
  // Environments are protected: an admin allows this workflow to deploy to staging.
  const environment = await json(
    await server.call('POST', '/api/environments', { name: 'staging', provider: 'docker', config: {}, allowedWorkflows: ['scan-approve-deploy'] }),
  );
  const id = await publishWorkflow(server, 'scan-approve-deploy', example);
  const queued = await json(await server.call('POST', `/api/workflows/${id}/runs`, { pipeline: 'deliver' }));
  const waiting = await waitForRun(server, queued.id, (r) => r.state === 'waiting' || finished(r), 180_000);
  assert.equal(waiting.state, 'waiting', JSON.stringify(waiting.steps.map((s: any) => [s.name, s.state, s.error])));
  const byName = Object.fromEntries(waiting.steps.map((s: any) => [s.name, s]));
  assert.equal(byName.build.state, 'succeeded');
  assert.match(byName.build.outputs.image_id, /^sha256:/);
  assert.equal(byName.sast.outputs.passed_gate, false, 'the SAST fixture has high findings');
  assert.ok(byName.sast.outputs.findings_count > 0);
  assert.equal(byName.image_scan.outputs.passed_gate, true);
  assert.equal(byName.approval.state, 'waiting');
  const artifacts = await json(await server.call('GET', `/api/runs/${queued.id}/artifacts`));
  assert.ok(
    artifacts.artifacts.some((a: any) => a.key === 'sarif/sast.sarif'),
    'SARIF kept as an artifact',
  );

  const approved = await server.call('POST', `/api/runs/${queued.id}/gates/approval/approve`, { comment: 'reviewed the findings' });
  assert.equal(approved.status, 200);
  // The SAST step fails its gate with continue_on_error: the run got through with warnings.
  const ended = await waitForRun(server, queued.id, (r) => finished(r) || r.state === 'succeeded_with_warnings', 120_000);
  assert.equal(ended.state, 'succeeded_with_warnings', JSON.stringify(ended.steps.map((s: any) => [s.name, s.state, s.error])));
  const deploy = ended.steps.find((s: any) => s.name === 'deploy');
  assert.equal(deploy.outputs.status, 'deployed');
  const answer = await fetch(deploy.outputs.url);
  assert.equal((await answer.text()).trim(), 'demo-web 1.4');
  assert.match(await rawLog(server, queued.id, 'deploy'), /blue|green/);

  const history = await json(await server.call('GET', `/api/environments/${environment.id}/deployments`));
  assert.deepEqual(
    history.deployments.map((d: any) => [d.environment, d.image, d.strategy, d.result, d.version]),
    [['staging', 'demo-web:1.4', 'blue_green', 'deployed', '1.4']],
  );
});
