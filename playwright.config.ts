import { defineConfig } from '@playwright/test';

/**
 * Browser tests against the real server (tests/e2e-helpers/server.ts starts one per test file) with
 * Debian's Chromium (scripts/setup/chromium.sh). Build the app first: `npx vite build`.
 */
export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: 'tests/output/results',
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  timeout: 30_000,
  expect: { timeout: 5_000 },
  reporter: [['list']],
  use: {
    headless: true,
    viewport: { width: 1280, height: 800 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    },
  },
});
