/**
 * A step's output cannot rewrite what the log viewer showed before it: cursor movement, erase sequences
 * and bare carriage returns from a real Docker step reach xterm as plain lines, colours still apply.
 */
import { expect, test } from '@playwright/test';
import { signIn } from '../e2e-helpers/browser.ts';
import { rawLog, startWorkflow, terminalText, waitForEmbeddedRunner, waitForRun } from '../e2e-helpers/runs.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

let server: FlowyardServer;

test.beforeAll(async () => {
  server = await startServer({ runner: true });
  await waitForEmbeddedRunner(server);
});

test.afterAll(async () => {
  await server?.stop();
});

test('"all tests passed" printed over an earlier "error" line shows below it, and the error stays red', async ({ page }) => {
  test.setTimeout(120_000);
  const commands = [
    "printf '\\033[31merror: 3 tests failed\\033[0m\\n'",
    "printf '\\033[1A\\033[2Kall tests passed\\n'",
    "printf '\\033[2J\\033[Hscreen cleared?\\n'",
    "printf 'FAILED\\rfine now\\n'",
    "printf '\\033]0;new title\\007\\033[?1049hdone\\n'",
  ];
  const yaml = `name: rewriting-log
pipelines:
  main:
    runs_on: [docker]
    steps:
      - name: rewrite
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands: ${JSON.stringify(commands)}
`;
  const { run } = await startWorkflow(server, 'rewriting-log', yaml);
  await waitForRun(server, run.id, (r) => r.state === 'succeeded');
  expect(await rawLog(server, run.id, 'rewrite'), 'the raw log keeps every byte the step wrote').toContain('\x1b[1A\x1b[2K');

  await signIn(page, server);
  await page.goto(`${server.url}/runs/${run.id}?step=rewrite`);
  await expect(page.getByRole('status').filter({ hasText: 'End of log' })).toBeVisible({ timeout: 30_000 });
  await expect.poll(() => terminalText(page)).toContain('done');
  const lines = (await terminalText(page)).split('\n');
  const printed = ['error: 3 tests failed', 'all tests passed', 'screen cleared?', 'FAILED', 'fine now', 'done'];
  expect(
    lines.filter((line) => printed.includes(line)),
    `every line the step printed is still shown, in order:\n${lines.join('\n')}`,
  ).toEqual(printed);

  const terminal = await page.locator('[data-log-terminal]').evaluate((element) => {
    const term = (element as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal;
    const buffer = term.buffer.active;
    for (let i = 0; i < buffer.length; i += 1) {
      const line = buffer.getLine(i)!;
      if (!line.translateToString().startsWith('error: 3 tests failed')) continue;
      const cell = line.getCell(0)!;
      return { palette: cell.isFgPalette(), colour: cell.getFgColor(), alternateScreen: buffer.type === 'alternate' };
    }
    return null;
  });
  expect(terminal).toEqual({ palette: true, colour: 1, alternateScreen: false });
});
