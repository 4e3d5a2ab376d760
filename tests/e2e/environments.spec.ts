import { expect, test, type APIRequestContext, type Locator, type Page } from '@playwright/test';
import { screenshot, signIn } from '../e2e-helpers/browser.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';
import { S3_CREDENTIALS, startS3 } from '../helpers/s3.ts';

// Secret values typed into the page; none may ever come back into its HTML.
const SECRET = 'tok-e2e-5f2c9a71d0';
const OTHER_SECRET = 'other-e2e-8d13b4c2';
const REPLACED_SECRET = 'new-e2e-77a0e1f9';

let server: FlowyardServer;

test.beforeAll(async () => {
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
});

const rowOf = (page: Page, name: string) => page.getByRole('row').filter({ has: page.getByRole('link', { name, exact: true }) });

async function expectNoSecretValues(page: Page) {
  const html = await page.content();
  for (const value of [SECRET, OTHER_SECRET, REPLACED_SECRET]) expect(html).not.toContain(value);
}

/** Fills the "New environment" dialog with `fill` and creates it; returns its row in the list. */
async function createFromPage(page: Page, name: string, fill: (dialog: Locator) => Promise<void>): Promise<Locator> {
  await page.getByRole('button', { name: 'New environment' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'New environment' });
  await dialog.getByLabel('Name', { exact: true }).fill(name);
  await fill(dialog);
  await dialog.getByRole('button', { name: 'Create environment' }).click();
  await expect(dialog).toBeHidden();
  return rowOf(page, name);
}

async function addSecret(dialog: Locator, name: string, value: string) {
  await dialog.getByRole('button', { name: 'Add secret' }).click();
  await expect(dialog.getByLabel('New secret name').last()).toBeFocused();
  await dialog.getByLabel('New secret name').last().fill(name);
  await dialog.getByLabel('New secret value').last().fill(value);
}

/** Records a deployment the way a runner does: claims the job of a run and reports its step.deploy. */
async function deployThroughTheProtocol(request: APIRequestContext, environment: string): Promise<string> {
  const call = async (method: string, path: string, data: unknown, token = server.adminToken) => {
    const response = await request.fetch(`${server.url}${path}`, { method, data, headers: token ? { authorization: `Bearer ${token}` } : {} });
    expect(response.ok(), `${method} ${path}: ${await response.text()}`).toBe(true);
    return response.status() === 204 ? undefined : response.json();
  };
  const { token: registrationToken } = await call('POST', '/api/runner-tokens', {});
  const runner = await call('POST', '/api/runner/v1/register', { registrationToken, name: 'e2e-deployer', labels: ['e2e-deploy'] }, '');
  const yaml = `name: deliver
version: "1.0"
modules:
  - name: local
    type: deploy.target
    config: { provider: docker }
pipelines:
  release:
    runs_on: [e2e-deploy]
    steps:
      - name: ship
        type: step.deploy
        config: { environment: ${environment}, target: local, image: "team/web:v2", strategy: blue_green, health_check: { path: /healthz } }
`;
  const workflow = await call('POST', '/api/workflows', { name: 'deliver', yaml });
  await call('POST', `/api/workflows/${workflow.id}/publish`, {});
  const run = await call('POST', `/api/workflows/${workflow.id}/runs`, {});
  const { job } = await call('POST', '/api/runner/v1/claim', { waitSeconds: 5 }, runner.token);
  await call('POST', `/api/runner/v1/jobs/${job.jobId}/steps/0`, { state: 'succeeded', outputs: { status: 'deployed', version: 'v2' } }, runner.token);
  return run.id;
}

test('creates a docker environment with a secret from the page and tests the engine', async ({ page }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Environments' }).click();
  await expect(page.getByRole('heading', { name: 'Environments', level: 1 })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'No environments yet' })).toBeVisible();

  // Keyboard: the button opens the dialog with the name field focused.
  await page.getByRole('button', { name: 'New environment' }).first().focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'New environment' });
  await expect(dialog.getByLabel('Name', { exact: true })).toBeFocused();
  await page.keyboard.type('local-docker');
  await addSecret(dialog, 'DEPLOY_TOKEN', SECRET);
  await screenshot(page, 'environments-create');
  await page.keyboard.press('Enter');
  await expect(dialog).toBeHidden();

  const row = rowOf(page, 'local-docker');
  await expect(row).toContainText('Docker engine');
  await expect(row).toContainText('DEPLOY_TOKEN');
  await row.getByRole('button', { name: 'Test local-docker' }).click();
  await expect(row.getByRole('status')).toHaveText(/✓ Docker engine at \S+ answered/, { timeout: 10_000 });
  await expect(row.getByRole('status')).toHaveClass(/\bok\b/);
  await expectNoSecretValues(page);
});

test('a registry at 127.0.0.1:5000 tests OK, one at 127.0.0.1:1 fails, a cloud provider names the plugin to install', async ({ page }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/environments`);
  for (const [name, url] of [
    ['registry-local', '127.0.0.1:5000'],
    ['registry-closed', '127.0.0.1:1'],
  ] as const) {
    await createFromPage(page, name, async (dialog) => {
      await dialog.getByLabel('Provider').selectOption('registry');
      await dialog.getByLabel('Registry URL').fill(url);
      await dialog.getByLabel(/Insecure/).check();
    });
  }
  const ecs = await createFromPage(page, 'ecs-prod', async (dialog) => {
    await dialog.getByLabel('Provider').selectOption('aws_ecs');
    await expect(dialog.getByRole('note')).toContainText('AWS ECS deployments come from the plugin flowyard/aws-ecs');
    await expect(dialog.getByRole('note').getByRole('link', { name: 'flowyard/aws-ecs' })).toHaveAttribute('href', '/marketplace/flowyard/aws-ecs');
    await dialog.getByLabel(/Region/).fill('eu-west-1');
  });
  await expect(ecs).toContainText('eu-west-1');
  await expect(ecs).toContainText('(plugin flowyard/aws-ecs)');

  const ok = rowOf(page, 'registry-local');
  await ok.getByRole('button', { name: 'Test registry-local' }).click();
  await expect(ok.getByRole('status')).toHaveText('✓ registry 127.0.0.1:5000 accepted anonymous access', { timeout: 10_000 });
  await expect(ok.getByRole('status')).toHaveClass(/\bok\b/);

  const closed = rowOf(page, 'registry-closed');
  await closed.getByRole('button', { name: 'Test registry-closed' }).click();
  await expect(closed.getByRole('status')).toHaveText(/^✕ /, { timeout: 10_000 });
  await expect(closed.getByRole('status')).toHaveClass(/\bbad\b/);

  await ecs.getByRole('button', { name: 'Test ecs-prod' }).click();
  await expect(ecs.getByRole('status')).toHaveText(
    '✕ deploy provider aws_ecs comes from the plugin flowyard/aws-ecs, which is not installed: install it from the Marketplace',
    { timeout: 10_000 },
  );
  await rowOf(page, 'local-docker').getByRole('button', { name: 'Test local-docker' }).click();
  await expect(rowOf(page, 'local-docker').getByRole('status')).toContainText('answered');
  await screenshot(page, 'environments');
});

test('an S3 environment built from bucket, endpoint, region and path style reaches the bucket', async ({ page }) => {
  const s3 = await startS3('releases');
  try {
    await signIn(page, server);
    await page.goto(`${server.url}/environments`);
    const row = await createFromPage(page, 'artifacts', async (dialog) => {
      await dialog.getByLabel('Provider').selectOption('s3');
      await dialog.getByLabel('Bucket').fill('releases');
      await dialog.getByLabel(/Endpoint/).fill(s3.endpoint);
      await dialog.getByLabel(/Region/).fill('us-east-1');
      await dialog.getByLabel(/Path-style/).check();
      await expect(dialog.getByText(s3.url, { exact: true })).toBeVisible();
      await expect(dialog).toContainText('Add the secrets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
      for (const [name, value] of Object.entries(S3_CREDENTIALS)) await addSecret(dialog, name, value);
    });
    await row.getByRole('button', { name: 'Test artifacts' }).click();
    await expect(row.getByRole('status')).toHaveText('✓ the bucket is reachable with these credentials', { timeout: 10_000 });
  } finally {
    await s3.close();
  }
});

test('editing keeps secret names and never shows their values', async ({ page, request }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/environments`);
  const row = rowOf(page, 'local-docker');
  const dialog = page.getByRole('dialog', { name: 'Edit local-docker' });

  await row.getByRole('button', { name: 'Edit local-docker' }).click();
  await expect(dialog.getByText('DEPLOY_TOKEN', { exact: true })).toBeVisible();
  await expect(dialog).toContainText('value hidden');
  await expectNoSecretValues(page);
  await dialog.getByLabel('Docker host').fill('unix:///var/run/docker.sock');
  // New environments are protected; the deploy in the details test below comes from workflow "deliver".
  await expect(dialog.getByRole('checkbox', { name: /Protected/ })).toBeChecked();
  await dialog.getByRole('textbox', { name: /^Allowed workflows/ }).fill('deliver');
  await addSecret(dialog, 'OTHER_TOKEN', OTHER_SECRET);
  await dialog.getByRole('button', { name: 'Save changes' }).click();
  await expect(dialog).toBeHidden();
  await expect(row).toContainText('DEPLOY_TOKEN');
  await expect(row).toContainText('OTHER_TOKEN');
  await expectNoSecretValues(page);

  // Replace one, remove the other.
  await row.getByRole('button', { name: 'Edit local-docker' }).click();
  await expect(dialog.getByLabel('Docker host')).toHaveValue('unix:///var/run/docker.sock');
  await dialog.getByRole('button', { name: 'Replace DEPLOY_TOKEN' }).click();
  await dialog.getByLabel('New value for DEPLOY_TOKEN').fill(REPLACED_SECRET);
  await dialog.getByRole('button', { name: 'Remove OTHER_TOKEN' }).click();
  await expect(dialog).toContainText('removed when you save');
  await screenshot(page, 'environments-edit');
  await dialog.getByRole('button', { name: 'Save changes' }).click();
  await expect(dialog).toBeHidden();
  await expect(row).toContainText('DEPLOY_TOKEN');
  await expect(row).not.toContainText('OTHER_TOKEN');
  await expectNoSecretValues(page);

  const listed = await request.get(`${server.url}/api/environments`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  const body = await listed.text();
  const local = (JSON.parse(body) as { environments: Array<{ name: string; secretNames: string[]; config: unknown }> }).environments.find(
    (e) => e.name === 'local-docker',
  );
  expect(local).toMatchObject({
    secretNames: ['DEPLOY_TOKEN'],
    config: { docker_host: 'unix:///var/run/docker.sock' },
    protected: true,
    allowedWorkflows: ['deliver'],
    approvers: [],
  });
  for (const value of [SECRET, OTHER_SECRET, REPLACED_SECRET]) expect(body).not.toContain(value);
});

test('the details page shows settings and a deploy history that refreshes by itself', async ({ page, request }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/environments`);
  await page.getByRole('link', { name: 'local-docker', exact: true }).click();
  await expect(page).toHaveURL(/\/environments\/[\w-]+$/);
  await expect(page.getByRole('heading', { name: 'local-docker', level: 1 })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Settings' })).toContainText('unix:///var/run/docker.sock');
  await expect(page.getByRole('region', { name: 'Settings' })).toContainText('only allowed workflows deploy here');
  await expect(page.getByRole('region', { name: 'Settings' })).toContainText('deliver');
  await expect(page.getByRole('heading', { name: 'No deployments yet' })).toBeVisible();

  const runId = await deployThroughTheProtocol(request, 'local-docker');
  const deployed = page.getByRole('region', { name: 'Deploy history' }).getByRole('row').filter({ hasText: 'team/web:v2' });
  await expect(deployed).toContainText('blue green', { timeout: 10_000 });
  await expect(deployed).toContainText('deployed');
  await expect(deployed).toContainText('v2');
  await expect(deployed).toContainText('ship');
  await expect(deployed).toContainText(server.adminEmail);
  await expect(deployed.getByRole('link')).toHaveAttribute('href', `/runs/${runId}`);
  await expectNoSecretValues(page);
  await screenshot(page, 'environment-details');
});

test('deletes an environment after confirmation, from the list and from its page', async ({ page }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/environments`);
  const closed = rowOf(page, 'registry-closed');
  await closed.getByRole('button', { name: 'Delete' }).click();
  await closed.getByRole('button', { name: 'Delete registry-closed' }).click();
  await expect(closed).toHaveCount(0);

  await page.getByRole('link', { name: 'ecs-prod', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'ecs-prod', level: 1 })).toBeVisible();
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Delete ecs-prod' }).click();
  await expect(page).toHaveURL(`${server.url}/environments`);
  await expect(rowOf(page, 'registry-local')).toBeVisible();
  await expect(rowOf(page, 'ecs-prod')).toHaveCount(0);
});
