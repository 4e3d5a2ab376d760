/**
 * Browser benchmarks of the workflow editor against a real `flowyard serve` (as the e2e tests start it;
 * needs `npx vite build`) and Debian's Chromium:
 *  1. keystroke → server diagnostics shown, on a 2,000-line workflow: a key that breaks a template
 *     reference (`.steps.step_N.` → `.steps.step_Nx.`) until its error squiggle appears, and Backspace
 *     until it is gone. Keys are spaced past the 150 ms burst debounce, as single edits are.
 *     Then the same with a published version and keys 1 s apart, so that the change summary (a heavier
 *     build of draft and published version, 700 ms after typing stops) runs between the keys.
 *  2. two co-editors: a key typed in one page until the character shows in the other.
 * Run: npx tsx tests/bench/editor-bench.ts [keystrokes per measurement, default 40]
 */
import { cpus, loadavg } from 'node:os';
import { chromium, type Browser, type Page } from '@playwright/test';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';
import { keyPressedAt, lastCheck, openEditor, placeCursor, seenAt, watchSquiggle, watchText } from './editor-page.ts';
import { generateWorkflow } from './try-activate.ts';

const KEYSTROKES = Number(process.argv[2] ?? 40);
const WARMUP = 5;
const TYPING_PAUSE_MS = 250;
const THINKING_PAUSE_MS = 1000;

function stats(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return `${label.padEnd(44)} n=${String(sorted.length).padEnd(4)} median ${at(0.5).toFixed(1).padStart(6)} ms   p95 ${at(0.95).toFixed(1).padStart(6)} ms   max ${sorted.at(-1)!.toFixed(1).padStart(6)} ms`;
}

/** The generated workflow grown to at least `lines` lines. */
function workflowOf(lines: number): string {
  for (let steps = 300; ; steps += 5) {
    const yaml = generateWorkflow(steps);
    if (yaml.split('\n').length >= lines) return yaml;
  }
}

async function post(server: FlowyardServer, path: string, body: unknown): Promise<{ id: string }> {
  const response = await fetch(`${server.url}/api${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { id: string };
}

interface Timing {
  pressed: number;
  seen: number;
}

/** One timed key: arm the probe in `watcher`, press in `typist`, and read both in-page stamps. */
async function timeKey(typist: Page, watcher: Page, key: string, arm: () => Promise<void>): Promise<Timing> {
  await arm();
  await typist.keyboard.press(key);
  const seen = await seenAt(watcher);
  return { pressed: await keyPressedAt(typist), seen };
}

const pause = (page: Page, ms: number) => page.waitForTimeout(ms + Math.random() * 100);

async function benchDiagnostics(browser: Browser, server: FlowyardServer, yaml: string, published: boolean): Promise<void> {
  const { id } = await post(server, '/workflows', { name: `bench-diagnostics${published ? '-published' : ''}`, yaml });
  if (published) await post(server, `/workflows/${id}/publish`, {});
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  await openEditor(page, server, id);
  // A template reference in the middle of the file: `{{ .steps.step_K.value_K }}`.
  const lines = yaml.split('\n');
  const line = lines.findIndex((text, i) => i > lines.length / 2 && text.includes('message: "set {{ .steps.step_'));
  const column = lines[line]!.indexOf('.value_') + 1;
  await placeCursor(page, line + 1, column);
  const samples: Record<'appear' | 'clear' | 'before' | 'request' | 'after', number[]> = { appear: [], clear: [], before: [], request: [], after: [] };
  for (let i = 0; i < WARMUP + KEYSTROKES; i++) {
    for (const [key, kind, present] of [
      ['x', 'appear', true],
      ['Backspace', 'clear', false],
    ] as const) {
      const { pressed, seen } = await timeKey(page, page, key, () => watchSquiggle(page, present));
      const request = await lastCheck(page);
      if (i >= WARMUP && request) {
        samples[kind].push(seen - pressed);
        samples.before.push(request.start - pressed);
        samples.request.push(request.end - request.start);
        samples.after.push(seen - request.end);
      }
      await pause(page, published ? THINKING_PAUSE_MS : TYPING_PAUSE_MS);
    }
  }
  const situation = published ? `published, keys ${THINKING_PAUSE_MS / 1000} s apart` : `draft only, keys ${TYPING_PAUSE_MS} ms apart`;
  console.log(`keystroke → server diagnostics shown (${lines.length - 1} lines, ${(yaml.length / 1024).toFixed(0)} KiB, ${situation})`);
  console.log(stats('  error appears (key breaks a reference)', samples.appear));
  console.log(stats('  error clears (Backspace fixes it)', samples.clear));
  console.log(stats('  both', [...samples.appear, ...samples.clear]));
  console.log(stats('    key → request sent', samples.before));
  console.log(stats('    POST /api/try-activate (server build)', samples.request));
  console.log(stats('    answer → squiggle in the DOM', samples.after));
  await page.context().close();
}

async function benchCoEditing(browser: Browser, server: FlowyardServer, yaml: string): Promise<void> {
  const { id } = await post(server, '/workflows', { name: 'bench-coediting', yaml });
  const [a, b] = await Promise.all([0, 1].map(async () => (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage()));
  await Promise.all([openEditor(a!, server, id), openEditor(b!, server, id)]);
  await placeCursor(a!, 2, 20);
  await a!.keyboard.type(' #');
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let typed = ' #';
  const delays: number[] = [];
  for (let i = 0; i < WARMUP + KEYSTROKES; i++) {
    const key = letters[i % letters.length]!;
    typed += key;
    const expected = typed.slice(-12);
    const { pressed, seen } = await timeKey(a!, b!, key, () => watchText(b!, expected));
    if (i >= WARMUP) delays.push(seen - pressed);
    await pause(a!, TYPING_PAUSE_MS);
  }
  console.log(`two co-editors (${yaml.split('\n').length - 1}-line draft): key in one page → character shown in the other`);
  console.log(stats('  keystroke → remote page', delays));
  await Promise.all([a!.context().close(), b!.context().close()]);
}

const server = await startServer();
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const yaml = workflowOf(2000);
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at start`,
  );
  await benchDiagnostics(browser, server, yaml, false);
  await benchDiagnostics(browser, server, yaml, true);
  await benchCoEditing(browser, server, yaml);
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at end`,
  );
} finally {
  await browser.close();
  await server.stop();
}
