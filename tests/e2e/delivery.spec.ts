/**
 * The build → scan → approve → blue-green deploy example in the IDE: findings and the gate verdict on the
 * run page, approval from the page, the deployment in the environment's history. Scanner images cannot be
 * pulled here, so the fake scanner (tests/helpers/fake-scanner.ts) wears the scanners' default names.
 */
import { readFile } from 'node:fs/promises';
import { expect, test } from '@playwright/test';
import { createDockerClient } from '../../runners/docker/engine.ts';
import { DEFAULT_SCANNER_IMAGES } from '../../runners/scan/scanners.ts';
import { screenshot, signIn } from '../e2e-helpers/browser.ts';
import { api, waitForEmbeddedRunner, waitForRun } from '../e2e-helpers/runs.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';
import { buildFakeScannerImage } from '../helpers/fake-scanner.ts';

const docker = createDockerClient();
let server: FlowyardServer;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  await buildFakeScannerImage(docker, DEFAULT_SCANNER_IMAGES.semgrep, { env: { FAKE_SARIF: 'semgrep-webgoat-java.sarif' } });
  await buildFakeScannerImage(docker, DEFAULT_SCANNER_IMAGES.trivy, { env: { FAKE_SARIF: 'trivy-clean.sarif', FAKE_TARGET: 'demo-web:1.4' } });
  server = await startServer({ runner: true });
  await waitForEmbeddedRunner(server);
});

test.afterAll(async () => {
  await server?.stop();
  for (const image of [DEFAULT_SCANNER_IMAGES.semgrep, DEFAULT_SCANNER_IMAGES.trivy, 'demo-web:1.4']) {
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
  }
  const deployed = await docker.listContainers({ all: true, filters: { label: ['flowyard.app=demo-web'] } });
  await Promise.all(deployed.map((c) => docker.getContainer(c.Id).remove({ force: true })));
});

test('build, scan, approve and deploy blue-green from the IDE', async ({ page }) => {
  test.setTimeout(240_000);
  const yaml = await readFile(new URL('../../examples/scan-approve-deploy.yaml', import.meta.url), 'utf8');
  // Environments are protected: an admin allows this workflow to deploy to staging.
  const environment = (await (
    await api(server, 'POST', '/api/environments', { name: 'staging', provider: 'docker', config: {}, allowedWorkflows: ['scan-approve-deploy'] })
  ).json()) as { id: string };
  const { id } = (await (await api(server, 'POST', '/api/workflows', { name: 'scan-approve-deploy', yaml })).json()) as { id: string };
  expect((await api(server, 'POST', `/api/workflows/${id}/publish`)).status).toBe(200);
  const run = (await (await api(server, 'POST', `/api/workflows/${id}/runs`, { pipeline: 'deliver' })).json()) as { id: string };

  await signIn(page, server);
  await page.goto(`${server.url}/runs/${run.id}`);
  const panel = page.getByRole('region', { name: 'Gate approval is waiting for a decision' });
  await expect(panel).toBeVisible({ timeout: 180_000 });

  await page
    .getByRole('navigation', { name: 'Steps' })
    .getByRole('link', { name: /^sast\b/ })
    .click();
  const findings = page.getByRole('region', { name: 'Scan findings' });
  await expect(findings.getByRole('status')).toContainText('Gate failed');
  await expect(findings).toContainText('high');
  await expect(findings.locator('code.where').first()).toContainText(':');
  await screenshot(page, 'delivery-findings');
  await page
    .getByRole('navigation', { name: 'Steps' })
    .getByRole('link', { name: /^image_scan\b/ })
    .click();
  await expect(findings.getByRole('status')).toContainText('Gate passed');

  await panel.getByLabel('Comment').fill('findings reviewed');
  await panel.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('heading', { name: 'scan-approve-deploy #1' }).locator('..')).toContainText('succeeded', { timeout: 120_000 });
  // The SAST step fails its gate with continue_on_error: the run got through with warnings.
  const ended = await waitForRun(server, run.id, (r) => r.state === 'succeeded_with_warnings');
  const deploy = ended.steps.find((s) => s.name === 'deploy') as unknown as { outputs: { url: string } };
  expect((await (await fetch(deploy.outputs.url)).text()).trim()).toBe('demo-web 1.4');

  await page.goto(`${server.url}/environments/${environment.id}`);
  await expect(page.getByRole('table')).toContainText('blue green');
  await expect(page.getByRole('table')).toContainText('deployed');
  await screenshot(page, 'delivery-deploy-history');
});
