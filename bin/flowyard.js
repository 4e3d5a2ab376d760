#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx, so `npx flowyard` works right after `npm install`.
import { helpFor } from './usage.js';

const help = helpFor(process.argv.slice(2));
if (help) {
  (help.toStderr ? process.stderr : process.stdout).write(help.text);
  process.exitCode = help.code;
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../server/cli/main.ts');
}
