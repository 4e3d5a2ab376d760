/**
 * What the run page answers at a glance, against the real server and its embedded runner (labels linux,
 * docker, embedded): waiting for a runner, succeeded with warnings, cancelled by whom, a gate's rendered
 * message, re-run from the failed job, run list filters, the share default and the layout at 800 px.
 * Screenshots of each state go to tests/output/screenshots/.
 */
import { randomBytes } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { screenshot } from '../e2e-helpers/browser.ts';
import { api, startWorkflow, terminalText, waitForEmbeddedRunner, waitForRun } from '../e2e-helpers/runs.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

let server: FlowyardServer;

test.beforeAll(async () => {
  server = await startServer({ runner: true });
  await waitForEmbeddedRunner(server);
});

test.afterAll(async () => {
  await server?.stop();
});

let password: string | undefined;

/** Signs in as the first admin, choosing a new password once when the server asks for one. */
async function signIn(page: Page): Promise<void> {
  password ??= server.adminPassword;
  const login = await page.request.post(`${server.url}/api/auth/login`, { data: { email: server.adminEmail, password } });
  expect(login.status(), await login.text()).toBe(200);
  if (!((await login.json()) as { user: { mustChangePassword?: boolean } }).user.mustChangePassword) return;
  const next = `e2e-${randomBytes(12).toString('hex')}`;
  const changed = await page.request.post(`${server.url}/api/auth/password`, {
    data: { currentPassword: password, newPassword: next },
    headers: { origin: server.url },
  });
  expect(changed.ok(), await changed.text()).toBe(true);
  password = next;
}

let pageErrors: Error[] = [];
test.beforeEach(({ context }) => {
  test.setTimeout(120_000);
  pageErrors = [];
  context.on('weberror', (error) => pageErrors.push(error.error()));
});
test.afterEach(() => expect(pageErrors, 'uncaught errors in the page').toEqual([]));

const workflow = (name: string, steps: string, labels = 'docker') => `name: ${name}
pipelines:
  main:
    runs_on: [${labels}]
    steps:
${steps}`;

const shell = (name: string, commands: string[], extra = '') => `      - name: ${name}
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands: ${JSON.stringify(commands)}
${extra}`;

const ended = (run: { state: string }) => ['succeeded', 'succeeded_with_warnings', 'failed', 'cancelled', 'timed_out'].includes(run.state);
const header = (page: Page, title: string) => page.getByRole('heading', { name: title }).locator('..');
const fact = (page: Page, name: string) => page.locator('dl div').filter({ has: page.getByText(name, { exact: true }) });
const stepLink = (page: Page, name: string) => page.getByRole('navigation', { name: 'Steps' }).getByRole('link', { name: new RegExp(`^${name}\\b`) });

test('a run no online runner can take says why and links to Runners; cancelling asks "Cancel run" / "Keep running" and says who', async ({ page }) => {
  const yaml = workflow('stranded', shell('compile', ['echo never']) + shell('package', ['echo never']), 'gpu');
  const { run } = await startWorkflow(server, 'stranded', yaml);
  await signIn(page);
  await page.goto(`${server.url}/runs/${run.id}`);
  const waiting = page.getByRole('status').filter({ hasText: 'Waiting for a runner' });
  await expect(waiting).toContainText('no online runner has the labels [gpu]; 1 runner online', { timeout: 15_000 });
  await expect(waiting.getByRole('link', { name: 'Open the Runners page' })).toHaveAttribute('href', '/runners');
  await expect(fact(page, 'Trigger')).toContainText('manual by Admin');
  await expect(fact(page, 'Version')).toContainText('v1');
  await screenshot(page, 'run-waiting-for-runner');

  await page.getByRole('button', { name: 'Cancel run' }).click();
  const confirm = page.getByRole('group', { name: 'Cancel run' });
  await expect(confirm.getByRole('button')).toHaveText(['Cancel run', 'Keep running']);
  await confirm.getByRole('button', { name: 'Keep running' }).click();
  await expect(header(page, 'stranded #1')).toContainText('queued');
  await page.getByRole('button', { name: 'Cancel run' }).click();
  await page.getByRole('group', { name: 'Cancel run' }).getByRole('button', { name: 'Cancel run' }).click();

  await expect(header(page, 'stranded #1')).toContainText('cancelled');
  const note = page.getByRole('note').filter({ hasText: 'Cancelled by Admin' });
  await expect(note.locator('time')).toHaveCount(1);
  await expect(waiting).toHaveCount(0);
  await expect(stepLink(page, 'compile')).toContainText('not started');
  await expect(stepLink(page, 'package')).toContainText('not started');
  await expect(page.getByRole('navigation', { name: 'Steps' })).not.toContainText('exit code null');
  await screenshot(page, 'run-cancelled');
});

test('failed continue_on_error steps show succeeded with warnings; the list shows who and filters by state and pipeline; shares default to 7 days', async ({
  page,
}) => {
  const yaml = workflow('tolerant', shell('lint', ['echo style problems', 'exit 2'], '        continue_on_error: true\n') + shell('build', ['echo built']));
  const { workflowId, run } = await startWorkflow(server, 'tolerant', yaml);
  expect((await waitForRun(server, run.id, ended)).state).toBe('succeeded_with_warnings');
  await signIn(page);
  await page.goto(`${server.url}/runs/${run.id}`);
  await expect(header(page, 'tolerant #1').locator('[data-state]')).toHaveText('succeeded with warnings');
  await expect(page.getByRole('note').filter({ hasText: 'Succeeded with warnings' })).toContainText('lint failed but is allowed to (continue_on_error)');
  await expect(fact(page, 'Runner')).toContainText(/\S/);
  await expect(fact(page, 'Runner')).not.toContainText('—');
  await expect(stepLink(page, 'lint')).toHaveAttribute('aria-current', 'step');
  await screenshot(page, 'run-succeeded-with-warnings');

  await page.getByRole('button', { name: 'Share' }).click();
  const dialog = page.getByRole('dialog', { name: 'Share this run' });
  await expect(dialog.getByLabel('Valid for')).toHaveValue('1');
  await expect(dialog.getByLabel('Valid for').locator('option')).toHaveText(['1 day', '7 days', '30 days', 'Until revoked']);
  await expect(dialog.getByLabel('Valid for').locator('option:checked')).toHaveText('7 days');
  await dialog.getByRole('button', { name: 'Close' }).click();

  const second = await api(server, 'POST', `/api/workflows/${workflowId}/runs`, {});
  expect(second.status).toBe(201);
  await waitForRun(server, ((await second.json()) as { id: string }).id, ended);
  await page.goto(`${server.url}/workflows/${workflowId}/runs`);
  const rows = page.getByRole('table').getByRole('row');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(1)).toContainText('Admin');
  await expect(rows.nth(1)).toContainText('manual');
  await page.getByLabel('State').selectOption('failed');
  await expect(page).toHaveURL(/\?state=failed$/);
  await expect(page.getByRole('heading', { name: 'No runs match' })).toBeVisible();
  await page.getByLabel('State').selectOption('succeeded_with_warnings');
  await expect(rows).toHaveCount(3);
  await page.getByLabel('Pipeline').fill('nope');
  await page.getByLabel('Pipeline').press('Enter');
  await expect(page).toHaveURL(/state=succeeded_with_warnings&pipeline=nope/);
  await expect(page.getByRole('heading', { name: 'No runs match' })).toBeVisible();
  await page.getByRole('link', { name: 'Clear filters' }).click();
  await expect(rows).toHaveCount(3);
  await screenshot(page, 'runs-list-who');
});

test('a gate shows its rendered message; the workspace artifact is not listed; re-run from the failed job opens the new run', async ({ page }) => {
  const gate = `      - name: approval
        type: step.gate
        config: { type: manual, message: "Release {{ .meta.workflow }} run {{ .meta.run_number }}: build exited {{ .steps.build.exit_code }}" }
`;
  const yaml = workflow('gated-msg', shell('build', ['echo built > out.txt']) + gate + shell('verify', ['cat out.txt', 'exit 5']));
  const { run } = await startWorkflow(server, 'gated-msg', yaml);
  await waitForRun(server, run.id, (r) => r.state === 'waiting');
  await signIn(page);
  await page.goto(`${server.url}/runs/${run.id}`);
  const panel = page.getByRole('region', { name: 'Gate approval is waiting for a decision' });
  await expect(panel).toContainText('Release gated-msg run 1: build exited 0');
  const stored = (await (await api(server, 'GET', `/api/runs/${run.id}/artifacts`)).json()) as { artifacts: Array<{ key: string }> };
  expect(stored.artifacts.map((a) => a.key)).toContain('_workspace/job-0');
  await expect(page.getByRole('region', { name: 'Artifacts' })).toContainText('None yet.');
  await expect(page.getByRole('region', { name: 'Artifacts' })).not.toContainText('_workspace');
  await screenshot(page, 'run-gate-message');

  await panel.getByRole('button', { name: 'Approve' }).click();
  await expect(header(page, 'gated-msg #1')).toContainText('failed', { timeout: 30_000 });
  await expect(stepLink(page, 'verify')).toHaveAttribute('aria-current', 'step');
  await page.getByRole('button', { name: 'Re-run failed job' }).click();
  await expect(page.getByRole('heading', { name: 'gated-msg #2' })).toBeVisible();
  await expect(fact(page, 'Trigger')).toContainText('re-run of #1 from job 2 by Admin');
  // The gate in front of the failed job asks again: the first run's approval is not carried over.
  const again = page.getByRole('region', { name: 'Gate approval is waiting for a decision' });
  await again.getByRole('button', { name: 'Approve' }).click();
  await expect(header(page, 'gated-msg #2')).toContainText('failed', { timeout: 30_000 });
  await expect(stepLink(page, 'build')).toContainText('succeeded');
  await screenshot(page, 'run-rerun-from-failed');
});

test('the layout holds at 800 px: the top bar does not overlap, the run page and environments fit; a clean finished run opens on the whole log', async ({
  page,
}) => {
  await page.setViewportSize({ width: 800, height: 700 });
  const { run } = await startWorkflow(server, 'narrow', workflow('narrow', shell('one', ['echo one'])));
  await waitForRun(server, run.id, ended);
  await signIn(page);
  for (const path of [`/runs/${run.id}`, '/environments', '/runners']) {
    await page.goto(`${server.url}${path}`);
    const nav = await page.getByRole('navigation', { name: 'Main' }).boundingBox();
    const account = await page.getByRole('button', { name: 'Sign out' }).locator('..').boundingBox();
    expect(nav && account, `top bar on ${path}`).toBeTruthy();
    expect(nav!.x + nav!.width, `nav ends before the account box on ${path}`).toBeLessThanOrEqual(account!.x);
    expect(account!.x + account!.width).toBeLessThanOrEqual(800);
    expect(await page.evaluate(() => document.documentElement.scrollWidth), `no sideways scrolling on ${path}`).toBeLessThanOrEqual(800);
  }
  const environment = (await (await api(server, 'POST', '/api/environments', { name: 'narrow-env', provider: 'docker', config: {} })).json()) as { id: string };
  await page.goto(`${server.url}/environments/${environment.id}`);
  const middle = async (name: string) => {
    const box = (await page.getByRole('button', { name }).boundingBox())!;
    return box.y + box.height / 2;
  };
  expect(Math.abs((await middle('Test narrow-env')) - (await middle('Edit'))), 'Test lines up with Edit and Delete').toBeLessThan(2);
  expect(Math.abs((await middle('Delete')) - (await middle('Edit')))).toBeLessThan(2);
  await screenshot(page, 'environment-actions-800');

  await page.goto(`${server.url}/runs/${run.id}`);
  // Nothing failed: the finished run opens on the whole log.
  await expect(stepLink(page, 'All steps')).toHaveAttribute('aria-current', 'step');
  await expect.poll(() => terminalText(page), { timeout: 15_000 }).toMatch(/── one \(succeeded\) ──\n\$ echo one\none/);
  await screenshot(page, 'run-page-800');
});
