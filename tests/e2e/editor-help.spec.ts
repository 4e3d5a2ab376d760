import { expect, test } from '@playwright/test';
import { screenshot } from '../e2e-helpers/browser.ts';
import { endOfLine, openEditor, replaceLine, suggestionLabels } from '../e2e-helpers/editor.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

let server: FlowyardServer;

test.beforeAll(async () => {
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
});

const WORKFLOW = (name: string) => `name: ${name}
secrets: [API_KEY]
pipelines:
  main:
    inputs: { target: { type: string, default: staging } }
    steps:
      - name: compile
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: [make] }
      - name: facts
        type: step.set
        config: { values: { channel: beta } }
      - name: report
        type: step.log
        config:
          message: "done"
`;

async function createWorkflow(name: string): Promise<string> {
  const response = await fetch(`${server.url}/api/workflows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, yaml: WORKFLOW(name) }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

test('inside {{ }} the editor completes earlier steps, their outputs, inputs, secrets and run metadata', async ({ page }) => {
  await openEditor(page, server, await createWorkflow('template-paths'));
  await replaceLine(page, 16, '          message: "{{ .steps.');
  await expect.poll(() => suggestionLabels(page)).toEqual(['compile', 'facts']);
  await page.keyboard.type('compile.');
  await expect.poll(() => suggestionLabels(page)).toEqual(['artifacts', 'exit_code']);
  await expect(page.locator('.suggest-widget')).toContainText('exit code of the script');
  await screenshot(page, 'editor-template-completion');
  await page.keyboard.press('Escape');

  for (const [typed, expected] of [
    ['{{ .steps.facts.', ['channel']],
    ['{{ .Inputs.', ['target']],
    ['{{ .Secrets.', ['API_KEY']],
  ] as const) {
    await replaceLine(page, 16, `          message: "${typed}`);
    await expect.poll(() => suggestionLabels(page)).toEqual([...expected]);
    await page.keyboard.press('Escape');
  }
  await replaceLine(page, 16, '          message: "{{ .meta.');
  await expect.poll(() => suggestionLabels(page)).toContain('run_number');
});

test('a "did you mean" diagnostic offers a quick fix that applies the suggestion', async ({ page }) => {
  await openEditor(page, server, await createWorkflow('quick-fix'));
  await replaceLine(page, 14, '        type: step.logg');
  await expect(page.getByRole('list', { name: 'Problems' })).toContainText('did you mean "step.log"');
  await endOfLine(page, 14);
  await page.keyboard.press('ArrowLeft'); // inside "step.logg", where the marker is
  await page.keyboard.press('Control+.');
  const fix = page.locator('.action-widget').getByText('Change to "step.log"');
  await expect(fix).toBeVisible();
  await screenshot(page, 'editor-quick-fix');
  await page.keyboard.press('Enter'); // the preferred fix is the selected one (the widget's pointer block eats clicks)
  await expect(page.locator('.monaco-editor .view-lines')).toContainText('type: step.log');
  await expect(page.locator('.monaco-editor .view-lines')).not.toContainText('step.logg');
  await expect(page.getByText('No problems.')).toBeVisible();
});

test('live checks of a draft that does not build are answers, not console errors; the preview says Try-activate', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
  await openEditor(page, server, await createWorkflow('live-check'));
  await replaceLine(page, 16, '          message: "{{ .steps.ghost.out }}"');
  await expect(page.getByText('Does not build', { exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Try-activate', exact: true }).click();
  await expect(page.getByText(/^Does not build: 1 error\.$/)).toBeVisible();
  expect(errors).toEqual([]);
});
