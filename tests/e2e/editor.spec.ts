import { expect, test, type Page } from '@playwright/test';
import { screenshot } from '../e2e-helpers/browser.ts';
import { endOfLine, openEditor as openEditorOn, replaceLine } from '../e2e-helpers/editor.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

const openEditor = (page: Page, id: string) => openEditorOn(page, server, id);

let server: FlowyardServer;

test.beforeAll(async () => {
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
});

const BLANK = (name: string) => `name: ${name}
version: "1.0"
pipelines:
  main:
    trigger: { type: manual }
    steps:
      - name: hello
        type: step.log
        config:
          message: "hello from {{ .meta.workflow }}"
`;

async function api(method: 'GET' | 'POST', path: string, data?: unknown) {
  const response = await fetch(`${server.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: data === undefined ? undefined : JSON.stringify(data),
  });
  return { status: response.status, body: await response.json() };
}

async function createWorkflow(name: string, yaml = BLANK(name)): Promise<string> {
  const { status, body } = await api('POST', '/workflows', { name, yaml });
  expect(status, JSON.stringify(body)).toBe(201);
  return body.id;
}

/** The text of every line that carries an error squiggle, found by matching overlay and line positions. */
function erroredLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const lines = new Map([...document.querySelectorAll<HTMLElement>('.monaco-editor .view-line')].map((l) => [l.style.top, l.textContent ?? '']));
    return [...document.querySelectorAll<HTMLElement>('.monaco-editor .cdr.squiggly-error')].map((s) =>
      (lines.get(s.parentElement!.style.top) ?? '').replace(/\u00a0/g, ' '),
    );
  });
}

test('completes step types and config keys, shows schema and build diagnostics on the right line', async ({ page }) => {
  const id = await createWorkflow('completion', 'name: completion\nversion: "1.0"\npipelines:\n  main:\n    steps:\n      - name: build\n        type: ');
  await openEditor(page, id);
  await page.locator('.monaco-editor .view-lines').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Control+Space');
  const suggestions = page.locator('.suggest-widget .monaco-list-row');
  await expect(suggestions.filter({ hasText: /^step\.log$/ })).toHaveCount(1);
  // The list is virtual (a dozen rows at a time): narrow it to find step.shell_exec.
  await page.keyboard.type('shell');
  await expect(suggestions).toHaveText(['step.shell_exec']);
  await page.keyboard.press('Control+Space'); // the details pane, with the type's description
  await expect(page.locator('.suggest-details')).toContainText('Run shell commands in a container');
  await screenshot(page, 'editor-completion-type');
  await page.keyboard.press('Enter');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  await page.keyboard.type('config:');
  await page.keyboard.press('Enter'); // Monaco indents after a colon
  await page.keyboard.press('Control+Space');
  for (const key of ['image', 'commands', 'artifacts_out', 'timeout']) await expect(suggestions.filter({ hasText: new RegExp(`^${key}$`) })).toHaveCount(1);
  await screenshot(page, 'editor-completion-config');
  await page.keyboard.press('Escape');

  // A build error (a template reading a step that does not exist) lands on its line, and goes when fixed.
  const other = await createWorkflow('diagnostics');
  await page.goto(`${server.url}/workflows/${other}`);
  await expect(page.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();
  await replaceLine(page, 10, '          message: "{{ .steps.missing.out }}"');
  await expect.poll(() => erroredLines(page)).toEqual([expect.stringContaining('.steps.missing.out')]);
  await expect(page.getByRole('list', { name: 'Problems' })).toContainText('no step is named "missing"');
  await screenshot(page, 'editor-build-diagnostic');
  await replaceLine(page, 10, '          message: "fixed"');
  await expect.poll(() => erroredLines(page)).toEqual([]);
  await expect(page.getByText('No problems.')).toBeVisible();

  // A schema error (an unknown config key) is flagged by monaco-yaml as you type, with the schema's message.
  await endOfLine(page, 10);
  await page.keyboard.press('Enter');
  await page.keyboard.insertText('colour: red');
  await expect.poll(() => erroredLines(page)).toContainEqual(expect.stringContaining('colour: red'));
  await page.locator('.monaco-editor .cdr.squiggly-error').first().hover({ force: true }); // the text layer is on top
  await expect(page.locator('.monaco-hover').filter({ hasText: 'Property colour is not allowed' })).toBeVisible();
  await screenshot(page, 'editor-schema-diagnostic');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+Shift+k'); // delete the line
  await expect.poll(() => erroredLines(page)).toEqual([]);
});

test('two co-editors see each other’s edits and cursors; a reload keeps both; offline edits merge', async ({ browser }) => {
  const id = await createWorkflow('coedit');
  const [a, b] = await Promise.all([browser.newContext(), browser.newContext()]).then((contexts) => Promise.all(contexts.map((c) => c.newPage())));
  await Promise.all([openEditor(a!, id), openEditor(b!, id)]);
  const lines = (page: Page) => page.locator('.monaco-editor .view-lines');

  await endOfLine(a!, 2);
  await a!.keyboard.type(' # edit-from-a');
  await expect(lines(b!)).toContainText('edit-from-a');
  await endOfLine(b!, 4);
  await b!.keyboard.type(' # edit-from-b');
  await expect(lines(a!)).toContainText('edit-from-b');

  // Each sees the other's caret with the user's name (there is no user-creation API, so both are the admin).
  for (const page of [a!, b!]) {
    const head = page.locator('.yRemoteSelectionHead');
    await expect(head).toHaveCount(1);
    expect(await head.evaluate((el) => getComputedStyle(el, '::after').content)).toBe('"Admin"');
    await expect(page.getByRole('list', { name: 'Also editing' })).toContainText('Admin');
  }
  await screenshot(a!, 'editor-coediting');

  await a!.reload();
  await expect(a!.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();
  await expect(lines(a!)).toContainText('edit-from-a');
  await expect(lines(a!)).toContainText('edit-from-b');
  await expect.poll(async () => (await api('GET', `/workflows/${id}`)).body.draftYaml).toMatch(/edit-from-a[\s\S]*edit-from-b/);

  // Offline edits on both sides merge when the connection is back.
  await a!.context().setOffline(true);
  await expect(a!.getByRole('status').filter({ hasText: 'Offline' })).toBeVisible();
  await endOfLine(a!, 1);
  await a!.keyboard.type(' # offline-a');
  await endOfLine(b!, 3);
  await b!.keyboard.type(' # online-b');
  await expect(lines(a!)).not.toContainText('online-b');
  await screenshot(a!, 'editor-offline');
  await a!.context().setOffline(false);
  await expect(a!.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();
  for (const page of [a!, b!]) for (const text of ['offline-a', 'online-b']) await expect(lines(page)).toContainText(text);
  await Promise.all([a!.context().close(), b!.context().close()]);
});

test('try-activate shows a readable result with types, and a failed build with diagnostics that move the cursor', async ({ page }) => {
  const id = await createWorkflow('preview');
  await openEditor(page, id);
  await page.locator('.monaco-editor .view-lines').click();
  await page.keyboard.press('Control+s');
  const preview = page.getByRole('tabpanel');
  await expect(preview.getByText('Builds', { exact: true })).toBeVisible();
  await expect(preview.getByText('Would activate 1 pipeline with 1 step and 1 trigger.')).toBeVisible();
  await expect(preview.getByText('build_ok')).toHaveCount(0);
  await expect(preview.locator('.types')).toContainText('step.log');
  await expect(preview.locator('.types')).toContainText('manual');
  await expect(preview.getByRole('img', { name: /Pipeline main: 1 steps in 1 job: hello/ })).toBeVisible();
  await screenshot(page, 'editor-preview-ok');

  await replaceLine(page, 10, '          message: "{{ .steps.ghost.out }}"');
  await page.keyboard.press('Control+Home');
  await page.keyboard.press('Control+s');
  await expect(preview.getByText('Does not build', { exact: true })).toBeVisible();
  await expect(preview.getByText(/^Does not build: 1 error\.$/)).toBeVisible();
  const problem = preview.getByRole('button', { name: /no step is named "ghost"/ });
  await expect(page.getByLabel('Editor status')).toContainText('Ln 1, Col 1');
  await problem.click();
  await expect(page.getByLabel('Editor status')).toContainText(/Ln 10, Col \d+/);
  // The keyboard works as well: focus the problem and press Enter.
  await page.keyboard.press('Control+Home');
  await problem.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Editor status')).toContainText(/Ln 10, Col \d+/);
  await screenshot(page, 'editor-preview-failed');
});

test('publish, change summary, rolled back on a webhook conflict, version history and restore', async ({ page }) => {
  const owner = await createWorkflow('hook-owner', BLANK('hook-owner').replace('{ type: manual }', '{ type: http, config: { path: /e2e-deploy } }'));
  expect((await api('POST', `/workflows/${owner}/publish`, { message: 'holds the path' })).status).toBe(200);
  const id = await createWorkflow('release');
  await openEditor(page, id);
  await page.locator('.monaco-editor .view-lines').click();

  // Keyboard only: Ctrl+Enter opens the dialog with the message focused, Ctrl+Enter publishes.
  await page.keyboard.press('Control+Enter');
  const dialog = page.getByRole('dialog', { name: 'Publish' });
  await expect(dialog.getByLabel('Message')).toBeFocused();
  await page.keyboard.type('first version');
  await page.keyboard.press('Control+Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Published version 1' })).toBeVisible();
  await expect(page.getByText('v1 active')).toBeVisible();

  await replaceLine(page, 10, '          message: "changed"');
  const preview = page.getByRole('tabpanel');
  await expect(preview.locator('.chip.changed')).toHaveText(['~ main', '~ hello']);
  await expect(preview.locator('.patch .add')).toHaveText('+          message: "changed"');
  await expect(preview.locator('.patch .remove')).toContainText('hello from');
  await screenshot(page, 'editor-change-summary');

  // The same webhook path as another workflow: activation fails and the publish is rolled back.
  await replaceLine(page, 5, '    trigger: { type: http, config: { path: /e2e-deploy } }');
  await page.getByRole('button', { name: /^Publish…/ }).click();
  await dialog.getByRole('button', { name: 'Publish' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'Rolled back' });
  await expect(alert).toContainText('webhook path /e2e-deploy is already registered by workflow "hook-owner"');
  await expect(alert).toContainText('Version 1 stays active');
  await screenshot(page, 'editor-rolled-back');

  await replaceLine(page, 5, '    trigger: { type: manual }');
  await page.keyboard.press('Control+Enter');
  await dialog.getByLabel('Message').fill('second version');
  await dialog.getByLabel('Message').press('Control+Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Published version 2' })).toBeVisible();

  await page.getByRole('tab', { name: 'History' }).click();
  const versions = page.getByRole('list', { name: 'Versions' }).getByRole('listitem');
  await expect(versions).toHaveCount(2);
  const v1 = versions.filter({ hasText: 'first version' });
  await v1.getByRole('button', { name: 'Diff' }).click();
  const viewer = page.getByRole('dialog', { name: 'Version 1' });
  await expect(viewer.locator('.monaco-diff-editor .view-lines').first()).toContainText('hello from');
  await screenshot(page, 'editor-version-diff');
  await viewer.getByRole('button', { name: 'YAML' }).click();
  await expect(viewer.locator('.monaco-editor .view-lines')).toContainText('hello from');
  await page.keyboard.press('Escape');
  await expect(viewer).toBeHidden();

  await v1.getByRole('button', { name: 'Restore' }).click();
  await v1.getByRole('button', { name: 'Restore v1' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Published version 3' })).toBeVisible();
  await expect(versions.filter({ hasText: 'restored from v1' })).toContainText('active');
  await screenshot(page, 'editor-history');
  const { body } = await api('GET', `/workflows/${id}/versions/3`);
  expect(body.yaml).toContain('hello from');
});

test('the run form is built from the active version’s pipeline inputs and starts a run', async ({ page }) => {
  const yaml = `name: deploy-form
version: "1.0"
pipelines:
  deploy:
    inputs:
      target: { type: choice, options: [staging, prod], default: staging }
      replicas: { type: number, default: 2 }
      dry_run: { type: boolean, default: true }
      note: { type: string, required: true, description: Why this deploy }
    steps:
      - name: announce
        type: step.log
        config:
          message: "{{ .Inputs.target }} x{{ .Inputs.replicas }}"
  smoke:
    steps:
      - name: ping
        type: step.log
        config:
          message: ping
`;
  const id = await createWorkflow('deploy-form', yaml);
  expect((await api('POST', `/workflows/${id}/publish`, {})).status).toBe(200);
  await openEditor(page, id);
  await page.getByRole('tab', { name: 'Run' }).click();
  const form = page.getByRole('tabpanel');
  await expect(form.getByLabel('Pipeline')).toHaveValue('deploy');
  await expect(form.getByLabel('target')).toHaveValue('staging');
  await expect(form.getByLabel('replicas')).toHaveValue('2');
  await expect(form.getByLabel('dry_run')).toBeChecked();
  await form.getByLabel('target').selectOption('prod');
  await form.getByLabel('replicas').fill('3');
  await form.getByLabel('dry_run').uncheck();
  await form.getByLabel('note').fill('release 1.2');
  await screenshot(page, 'editor-run-form');
  await form.getByRole('button', { name: 'Run deploy' }).click();
  await expect(page).toHaveURL(/\/runs\/[\w-]+$/);
  const runId = page.url().split('/').at(-1)!;
  const { body: run } = await api('GET', `/runs/${runId}`);
  expect(run).toMatchObject({ pipeline: 'deploy', inputs: { target: 'prod', replicas: 3, dry_run: false, note: 'release 1.2' } });
});
