/**
 * A step prints 100,000 lines. On the finished run's page, with xterm already loaded for another step:
 * the time from choosing the step until its last line is drawn in xterm, over the time the same page
 * takes to fetch the raw log to completion (goal ≤ 1.5×), with the main thread's longest task and the
 * longest gap between animation frames meanwhile. `npx vite build` first; needs Docker (scripts/setup/docker.sh).
 *   npx tsx tests/bench/xterm-bench.ts
 */
import { chromium, type Page } from '@playwright/test';
import { rawLog, startWorkflow, terminalText, waitForEmbeddedRunner, waitForRun } from '../e2e-helpers/runs.ts';
import { startServer } from '../e2e-helpers/server.ts';

const LINES = 100_000;
const ROUNDS = 9;
const lastLine = `${LINES} ok compiling module-${LINES}.ts`;

const yaml = `name: loud-log
pipelines:
  main:
    runs_on: [docker]
    steps:
      - name: hello
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo hello"] }
      - name: print
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands:
            - awk 'BEGIN { for (i = 1; i <= ${LINES}; i++) printf "%d \\033[32mok\\033[0m compiling module-%d.ts in %d ms\\n", i, i, i % 97 }'
`;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Page-side: fetch the raw log to its last byte. */
function fetchRaw(page: Page, url: string): Promise<{ ms: number; bytes: number }> {
  return page.evaluate(async (href) => {
    const started = performance.now();
    const body = await (await fetch(href)).arrayBuffer();
    return { ms: performance.now() - started, bytes: body.byteLength };
  }, url);
}

/**
 * Page-side: click the step, then catch the DOM change that draws `last` (a MutationObserver on the log
 * panel); meanwhile long tasks (PerformanceObserver) and the longest gap between animation frames.
 */
function openLog(
  page: Page,
  step: string,
  last: string,
): Promise<{ ms: number; rows: number; longestTask: number; longTasks: number; longestFrameGap: number }> {
  return page.evaluate(
    ({ step, last }) =>
      new Promise((resolve) => {
        const tasks: number[] = [];
        const longTasks = new PerformanceObserver((list) => list.getEntries().forEach((entry) => tasks.push(entry.duration)));
        longTasks.observe({ type: 'longtask' });
        const panel = document.querySelector('[data-log-terminal]')!;
        const link = [...document.querySelectorAll<HTMLAnchorElement>('nav[aria-label="Steps"] a')].find((a) => a.href.endsWith(`step=${step}`))!;
        let longestFrameGap = 0;
        let watching = true;
        const started = performance.now();
        let previous = started;
        const frame = (now: number) => {
          longestFrameGap = Math.max(longestFrameGap, now - previous);
          previous = now;
          if (watching) requestAnimationFrame(frame);
        };
        const drawn = new MutationObserver(() => {
          if (!panel.querySelector('.xterm-rows')?.textContent?.includes(last)) return;
          const ms = performance.now() - started;
          drawn.disconnect();
          // A little longer, for the frames and tasks that follow the drawing.
          setTimeout(() => {
            watching = false;
            longTasks.disconnect();
            const rows = (panel as HTMLElement & { terminal: import('@xterm/xterm').Terminal }).terminal.buffer.active.length;
            resolve({ ms, rows, longestTask: Math.max(0, ...tasks), longTasks: tasks.length, longestFrameGap });
          }, 200);
        });
        drawn.observe(panel, { childList: true, subtree: true, characterData: true });
        link.click();
        requestAnimationFrame(frame);
      }),
    { step, last },
  );
}

const server = await startServer({ runner: true });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  await waitForEmbeddedRunner(server);
  const { run } = await startWorkflow(server, 'loud-log', yaml);
  const done = await waitForRun(server, run.id, (r) => !['queued', 'running'].includes(r.state), 300_000);
  if (done.state !== 'succeeded') throw new Error(`the run ended ${done.state}`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // tsx compiles with esbuild's keepNames, which wraps the page-side functions' inner helpers in __name().
  await page.addInitScript('globalThis.__name = (f) => f');
  const login = await page.request.post(`${server.url}/api/auth/login`, { data: { email: server.adminEmail, password: server.adminPassword } });
  if (!login.ok()) throw new Error(`sign-in failed: ${login.status()}`);
  await page.goto(`${server.url}/runs/${run.id}?step=hello`);
  await page.waitForFunction(() => document.querySelector('[data-log-terminal] .xterm-rows')?.textContent?.includes('hello'));

  const rawUrl = `/api/runs/${run.id}/logs?step=print`;
  const raw: number[] = [];
  const shown: Array<Awaited<ReturnType<typeof openLog>>> = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const fetched = await fetchRaw(page, rawUrl);
    raw.push(fetched.ms);
    bytes = fetched.bytes;
    shown.push(await openLog(page, 'print', lastLine));
    if (round < ROUNDS - 1) await openLog(page, 'hello', '$ echo hello');
  }
  // What xterm holds is exactly the end of the raw log (colours aside).
  const held = await terminalText(page);
  const whole = (await rawLog(server, run.id, 'print')).replace(/\x1b\[[0-9;]*m/g, '').replace(/\n$/, '');
  if (!whole.endsWith(held) || held.split('\n').length < 10_000) throw new Error(`xterm does not hold the end of the log (${held.split('\n').length} lines)`);
  const ratios = shown.map((s, i) => s.ms / raw[i]!);
  const worst = (pick: (s: (typeof shown)[number]) => number) => Math.max(...shown.map(pick)).toFixed(0);
  console.log(
    `\nxterm: a ${LINES.toLocaleString()}-line log (${(bytes / 1024 / 1024).toFixed(1)} MiB), ${ROUNDS} rounds of: raw download, then the step opened on the run page`,
  );
  console.log(`  raw download in the page:         median ${median(raw).toFixed(0)} ms  (${raw.map((ms) => ms.toFixed(0)).join(', ')})`);
  console.log(`  step chosen → last line in xterm: median ${median(shown.map((s) => s.ms)).toFixed(0)} ms  (${shown.map((s) => s.ms.toFixed(0)).join(', ')})`);
  console.log(
    `  ratio: ${(median(shown.map((s) => s.ms)) / median(raw)).toFixed(2)}× of the medians, ${median(ratios).toFixed(2)}× median per round (goal ≤ 1.5×); xterm then holds ${median(shown.map((s) => s.rows)).toLocaleString()} rows, the log's last ${held.split('\n').length.toLocaleString()} lines exactly`,
  );
  if (errors.length > 0) console.log(`  errors in the page: ${errors.join('; ')}`);
  console.log(
    `  responsiveness meanwhile: long tasks (≥ 50 ms) per load ${median(shown.map((s) => s.longTasks))}, longest ${worst((s) => s.longestTask)} ms; longest gap between frames median ${median(shown.map((s) => s.longestFrameGap)).toFixed(0)} ms, worst ${worst((s) => s.longestFrameGap)} ms`,
  );
} finally {
  await browser.close();
  await server.stop();
}
