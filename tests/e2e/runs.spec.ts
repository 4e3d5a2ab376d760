/**
 * The run pages against the real server and its embedded runner on the local Docker engine
 * (`bash scripts/setup/docker.sh` provides it and flowyard/busybox:latest).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { expect, test, type Page } from '@playwright/test';
import { screenshot, signIn } from '../e2e-helpers/browser.ts';
import { api, getRun, rawLog, startWorkflow, terminalText, waitForEmbeddedRunner, waitForRun } from '../e2e-helpers/runs.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

let server: FlowyardServer;

test.beforeAll(async () => {
  server = await startServer({ runner: true });
  await waitForEmbeddedRunner(server);
});

test.afterAll(async () => {
  await server?.stop();
});

let pageErrors: Error[] = [];
test.beforeEach(({ context }) => {
  test.setTimeout(120_000);
  pageErrors = [];
  context.on('weberror', (error) => pageErrors.push(error.error()));
});
test.afterEach(() => expect(pageErrors, 'uncaught errors in the page').toEqual([]));

const workflow = (name: string, steps: string) => `name: ${name}
pipelines:
  main:
    runs_on: [docker]
    steps:
${steps}`;

const shell = (name: string, commands: string[], extra = '') => `      - name: ${name}
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands: ${JSON.stringify(commands)}${extra}
`;

/** What a terminal shows of raw log text: without its colour and style sequences or the final newline. */
const visible = (raw: string) => raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\n+$/, '');

const stepLink = (page: Page, name: string) => page.getByRole('navigation', { name: 'Steps' }).getByRole('link', { name: new RegExp(`^${name}\\b`) });

test('a running Docker step streams into xterm with colours; the final text equals the raw download; search finds a line', async ({ page }) => {
  const counting = ["printf '\\033[31mred alert\\033[0m\\n'", 'for i in $(seq 1 20); do echo line $i; sleep 0.3; done'];
  const { workflowId, run } = await startWorkflow(server, 'live-log', workflow('live-log', shell('count', counting)));
  await signIn(page, server);
  await page.goto(`${server.url}/runs/${run.id}?step=count`);
  await expect(page.getByRole('heading', { name: 'live-log #1' })).toBeVisible();

  await expect.poll(() => terminalText(page), { timeout: 30_000 }).toContain('line 2');
  const early = await terminalText(page);
  expect(early).not.toContain('line 20');
  expect((await getRun(server, run.id)).steps[0]!.state, 'the step was still running when its first lines showed').toBe('running');
  await expect(stepLink(page, 'count')).toContainText('running');
  await screenshot(page, 'run-page-live');

  await expect(page.getByRole('status').filter({ hasText: 'End of log' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole('heading', { name: 'live-log #1' }).locator('..')).toContainText('succeeded');
  const raw = await rawLog(server, run.id, 'count');
  expect(raw).toContain('line 20');
  expect(raw).toContain('\x1b[31mred alert\x1b[0m');
  expect(await terminalText(page)).toBe(visible(raw));

  // ANSI colours reach xterm's cells: "red alert" is drawn in palette colour 1 (red).
  const red = await page.locator('[data-log-terminal]').evaluate((element) => {
    const buffer = (element as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal.buffer.active;
    for (let i = 0; i < buffer.length; i += 1) {
      const line = buffer.getLine(i)!;
      if (!line.translateToString().startsWith('red alert')) continue;
      const cell = line.getCell(0)!;
      return { palette: cell.isFgPalette(), colour: cell.getFgColor(), plainAfter: line.getCell(10)?.isFgDefault() };
    }
    return null;
  });
  expect(red).toEqual({ palette: true, colour: 1, plainAfter: true });
  await expect(page.locator('[data-log-terminal] .xterm-rows span.xterm-fg-1').first()).toHaveText(/red alert/);

  const search = page.getByRole('searchbox', { name: 'Search the log' });
  await search.fill('line 7');
  await search.press('Enter');
  await expect(page.getByText('1 of 1')).toBeVisible();
  expect(
    await page.locator('[data-log-terminal]').evaluate((e) => (e as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal.getSelection()),
  ).toBe('line 7');
  await search.fill('line 1');
  await search.press('Enter');
  await expect(page.getByText(/^\d+ of 11$/)).toBeVisible();
  await page.getByRole('button', { name: 'Previous match' }).click();
  await expect(page.getByText(/^\d+ of 11$/)).toBeVisible();

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download raw' }).click()]);
  expect(await readFile((await download.path())!, 'utf8')).toBe(raw);
  await screenshot(page, 'run-page');

  await page.goto(`${server.url}/workflows/${workflowId}/runs`);
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: '#1' }) });
  await expect(row).toContainText('succeeded');
  await expect(row).toContainText('manual');
  await screenshot(page, 'runs-list');
});

test('artifacts are listed with size and SHA-256 and download', async ({ page }) => {
  const site = shell(
    'site',
    ['mkdir -p dist', 'echo "<h1>built by Flowyard</h1>" > dist/index.html'],
    '\n          artifacts_out: [{ key: site, path: /workspace/dist }]',
  );
  const { run } = await startWorkflow(server, 'with-artifact', workflow('with-artifact', site));
  await waitForRun(server, run.id, (r) => r.state === 'succeeded');
  const [artifact] = (
    (await (await api(server, 'GET', `/api/runs/${run.id}/artifacts`)).json()) as { artifacts: Array<{ key: string; size: number; sha256: string }> }
  ).artifacts;
  await signIn(page, server);
  await page.goto(`${server.url}/runs/${run.id}`);
  const section = page.getByRole('region', { name: 'Artifacts' });
  await expect(section.getByText('site', { exact: true })).toBeVisible();
  await expect(section).toContainText(artifact!.sha256);
  await expect(section).toContainText(artifact!.size < 1024 ? `${artifact!.size} B` : 'KiB');
  const [download] = await Promise.all([page.waitForEvent('download'), section.getByRole('link', { name: 'Download site' }).click()]);
  const bytes = await readFile((await download.path())!);
  expect(bytes.length).toBe(artifact!.size);
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(artifact!.sha256);
});

test('cancel from the page stops a long step', async ({ page }) => {
  const { run } = await startWorkflow(server, 'long', workflow('long', shell('sleepy', ['echo started', 'sleep 300'])));
  await signIn(page, server);
  await page.goto(`${server.url}/runs/${run.id}`);
  await expect.poll(() => terminalText(page), { timeout: 30_000 }).toContain('started');
  await page.getByRole('button', { name: 'Cancel run' }).click();
  await page.getByRole('group', { name: 'Cancel run' }).getByRole('button', { name: 'Cancel run' }).click();
  await expect(page.getByRole('heading', { name: 'long #1' }).locator('..')).toContainText('cancelled', { timeout: 30_000 });
  await expect(page.getByRole('button', { name: 'Cancel run' })).toHaveCount(0);
  expect((await getRun(server, run.id)).state).toBe('cancelled');
});

test('a waiting gate is approved from the page and the run goes on to succeed', async ({ page }) => {
  const gate = `      - name: approval
        type: step.gate
        config: { type: manual, approvers: ["role:admin"], timeout: 1h }
`;
  const yaml = workflow('gated', shell('build', ['echo built']) + gate + shell('ship', ['echo shipped']));
  const { run } = await startWorkflow(server, 'gated', yaml);
  await signIn(page, server);
  await page.goto(`${server.url}/runs/${run.id}`);
  const panel = page.getByRole('region', { name: 'Gate approval is waiting for a decision' });
  await expect(panel).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole('heading', { name: 'gated #1' }).locator('..')).toContainText('waiting');
  await screenshot(page, 'run-gate');
  await panel.getByLabel('Comment').fill('ship it');
  await panel.getByRole('button', { name: 'Approve' }).click();
  await expect(panel).toBeHidden();
  await expect(page.getByRole('heading', { name: 'gated #1' }).locator('..')).toContainText('succeeded', { timeout: 30_000 });
  const decisions = page.getByRole('region', { name: 'Gate decisions' });
  await expect(decisions).toContainText('approved');
  await expect(decisions).toContainText('by you');
  await expect(decisions).toContainText('ship it');
  await stepLink(page, 'ship').click();
  await expect.poll(() => terminalText(page)).toBe(visible(await rawLog(server, run.id, 'ship')));
  expect(await terminalText(page)).toMatch(/^shipped$/m);
});

test('a share link shows the run and its log to a signed-out visitor until it is revoked', async ({ page, browser }) => {
  const { run } = await startWorkflow(server, 'shared', workflow('shared', shell('hello', ['echo hello from a shared run'])));
  await waitForRun(server, run.id, (r) => r.state === 'succeeded');
  await signIn(page, server);
  await page.goto(`${server.url}/runs/${run.id}`);
  await page.getByRole('button', { name: 'Share' }).click();
  const dialog = page.getByRole('dialog', { name: 'Share this run' });
  await dialog.getByRole('button', { name: 'Create link' }).click();
  const link = await dialog.getByRole('textbox', { name: 'Share link (shown only now)' }).inputValue();
  expect(link).toMatch(new RegExp(`^${server.url}/share/[\\w-]{40,}$`));
  await expect(dialog.getByRole('row').filter({ hasText: 'active' })).toHaveCount(1);

  const visitor = await browser.newContext();
  visitor.on('weberror', (error) => pageErrors.push(error.error()));
  const shared = await visitor.newPage();
  await shared.goto(link);
  await expect(shared.getByRole('heading', { name: 'shared #1' })).toBeVisible();
  await expect.poll(() => terminalText(shared)).toBe(visible(await rawLog(server, run.id, 'hello')));
  expect(await terminalText(shared)).toMatch(/^hello from a shared run$/m);
  await expect(shared).toHaveURL(link);
  await expect(shared.getByRole('navigation', { name: 'Main' })).toHaveCount(0);
  await expect(shared.getByRole('button', { name: 'Cancel run' })).toHaveCount(0);
  await expect(shared.getByRole('button', { name: 'Share' })).toHaveCount(0);
  expect(await shared.locator('a[href^="/"]:not([href^="/api/share/"])').count(), 'no links into the workspace').toBe(0);
  await screenshot(shared, 'share-page');

  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await dialog.getByRole('button', { name: 'Revoke link' }).click();
  await expect(dialog.getByRole('row').filter({ hasText: 'revoked' })).toHaveCount(1);
  const token = link.split('/share/')[1]!;
  expect((await fetch(`${server.url}/api/share/${token}`)).status).toBe(404);
  expect((await fetch(`${server.url}/api/share/${token}/logs?step=hello`)).status).toBe(404);
  await shared.reload();
  await expect(shared.getByRole('heading', { name: 'This link is no longer valid' })).toBeVisible();
  await expect(shared).toHaveURL(link);
  await screenshot(shared, 'share-invalid');
  await visitor.close();
});

/** A loopback TCP proxy whose connections can be cut, and which can answer 503 for a while, like a restarting API. */
async function flakyProxy(target: URL): Promise<{ url: string; drop(downMs: number): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let downUntil = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    return socket;
  };
  const proxy: Server = createServer((client) => {
    track(client);
    if (Date.now() < downUntil) {
      client.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    client.pipe(track(connect(Number(target.port), target.hostname))).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    drop(downMs) {
      downUntil = Date.now() + downMs;
      for (const socket of sockets) socket.destroy();
    },
    close() {
      const closed = new Promise<void>((resolve) => proxy.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      return closed;
    },
  };
}

test('a dropped log connection resumes without gaps or repeats', async ({ page }) => {
  const { run } = await startWorkflow(server, 'flaky', workflow('flaky', shell('tick', ['for i in $(seq 1 40); do echo tick $i; sleep 0.2; done'])));
  const proxy = await flakyProxy(new URL(server.url));
  try {
    const streams: Array<{ url: string; lastEventId?: string }> = [];
    page.on('request', async (request) => {
      if (request.url().includes('/logs?')) streams.push({ url: request.url(), lastEventId: (await request.allHeaders())['last-event-id'] });
    });
    await signIn(page, server);
    await page.goto(`${proxy.url}/runs/${run.id}?step=tick`);
    await expect.poll(() => terminalText(page), { timeout: 30_000 }).toContain('tick 3');
    proxy.drop(0); // the browser reconnects by itself with Last-Event-ID
    await expect.poll(() => terminalText(page), { timeout: 10_000 }).toContain('tick 12');
    proxy.drop(5000); // its reconnect gets 503s: the page reopens the stream itself, from the last chunk it wrote
    await expect(page.getByRole('status').filter({ hasText: 'End of log' })).toBeVisible({ timeout: 30_000 });
    const text = await terminalText(page);
    expect(text).toBe(visible(await rawLog(server, run.id, 'tick')));
    expect(text.split('\n').filter((line) => line.startsWith('tick '))).toEqual(Array.from({ length: 40 }, (_, i) => `tick ${i + 1}`));
    expect(
      streams.some((s) => s.lastEventId !== undefined),
      'the browser resumed with Last-Event-ID',
    ).toBe(true);
    expect(
      streams.some((s) => s.url.includes('lastEventId=')),
      'the page reopened the stream from its last chunk',
    ).toBe(true);
  } finally {
    await proxy.close();
  }
});
