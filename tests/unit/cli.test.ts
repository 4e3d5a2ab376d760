import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { parseArgs } from 'node:util';
import { COMMAND_USAGE, helpFor } from '../../bin/usage.js';
import { uiIsCurrent, uiSourceHash } from '../../scripts/build-ui.ts';
import { colourEnabled, painter, stripColour } from '../../server/cli/colour.ts';
import { COMMAND_MAINS, usageError } from '../../server/cli/commands.ts';
import { askOnTerminal, decideGate } from '../../server/cli/exec-gates.ts';
import { runnerInstallCommand, tarballUrl } from '../../server/services/runner-install.ts';

const parseError = (args: string[]) => {
  try {
    parseArgs({ args, options: { port: { type: 'string' } } });
  } catch (error) {
    return error;
  }
  throw new Error('parseArgs accepted it');
};

test('parser errors become one short line; other errors are left alone', () => {
  assert.equal(usageError(parseError(['--prot', '1'])), 'unknown option --prot');
  assert.equal(usageError(parseError(['stray'])), 'unexpected argument stray');
  assert.equal(usageError(parseError(['--port'])), "Option '--port <value>' argument missing");
  assert.equal(usageError(new Error('disk full')), undefined);
});

test('every command in the help has an entry point and the other way round; help needs no command module', () => {
  assert.deepEqual(Object.keys(COMMAND_MAINS).sort(), Object.keys(COMMAND_USAGE).sort());
  assert.equal(helpFor([])?.code, 2);
  assert.equal(helpFor(['--help'])?.code, 0);
  assert.equal(helpFor(['exec', '-h'])?.text, `usage: flowyard ${COMMAND_USAGE.exec!.usage}\n`);
  assert.equal(helpFor(['nope'])?.toStderr, true);
  assert.equal(helpFor(['nope'])?.code, 2);
  assert.equal(helpFor(['validate', 'a.yaml']), undefined);
});

test('colours only on a terminal without NO_COLOR', () => {
  assert.equal(colourEnabled({ isTTY: true }, {}), true);
  assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(colourEnabled({ isTTY: false }, {}), false);
  assert.equal(colourEnabled({}, {}), false);
  assert.equal(painter(false)('31', 'x'), 'x');
  assert.equal(painter(true)('31', 'x'), '\x1b[31mx\x1b[0m');
  assert.equal(stripColour('\x1b[32;1m$ echo hi\x1b[0m\n'), '$ echo hi\n');
});

test('the terminal question repeats until yes or no, and a closed input rejects', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (chunk: Buffer) => (shown += chunk.toString()));
  const answer = askOnTerminal('approve? [y/n] ', input, output);
  input.write('maybe\n');
  input.write('YES\n');
  assert.equal(await answer, true);
  assert.match(shown, /approve\? \[y\/n\] answer y \(approve\) or n \(reject\)\napprove\? \[y\/n\] /);

  const closing = new PassThrough();
  const rejected = askOnTerminal('approve? ', closing, new PassThrough());
  closing.end();
  assert.equal(await rejected, false);
});

test('gates: conditions approve, auto gates reject, flags decide, and no terminal without a flag is an error', async () => {
  const noTerminal = { input: new PassThrough(), output: new PassThrough() };
  const steps = { scan: { passed_gate: true, state: 'succeeded' } };
  const conditions = ['steps.scan.passed_gate == true'];
  assert.deepEqual(await decideGate('g', { auto_approve_conditions: conditions }, steps, 'ask', noTerminal), {
    passed: true,
    type: 'auto',
    reason: 'approved: steps.scan.passed_gate == true',
  });
  assert.equal(
    (await decideGate('g', { type: 'auto', auto_approve_conditions: conditions }, { scan: { passed_gate: false } }, 'approve', noTerminal)).passed,
    false,
  );
  assert.deepEqual(await decideGate('g', { type: 'manual' }, {}, 'approve', noTerminal), {
    passed: true,
    type: 'manual',
    reason: 'approved by --approve-gates',
  });
  assert.deepEqual(await decideGate('g', {}, {}, 'reject', noTerminal), { passed: false, type: 'manual', reason: 'rejected by --reject-gates' });
  await assert.rejects(
    decideGate('release', { type: 'manual' }, {}, 'ask', noTerminal),
    /gate "release" needs a decision and there is no terminal to ask: pass --approve-gates or --reject-gates/,
  );
});

test('the UI is rebuilt only when a source changes: the stamp holds the hash of app/, static/ and the build configs', () => {
  const root = mkdtempSync(join(tmpdir(), 'flowyard-ui-'));
  mkdirSync(join(root, 'app', 'routes'), { recursive: true });
  writeFileSync(join(root, 'app', 'routes', '+page.svelte'), '<h1>one</h1>');
  writeFileSync(join(root, 'vite.config.ts'), 'export default {}');
  const first = uiSourceHash(root);
  assert.equal(uiSourceHash(root), first, 'stable');
  assert.equal(uiIsCurrent(root), false, 'never built');
  mkdirSync(join(root, 'build'));
  writeFileSync(join(root, 'build', 'index.html'), '<html>');
  writeFileSync(join(root, 'build', '.source-hash'), `${first}\n`);
  assert.equal(uiIsCurrent(root), true);
  writeFileSync(join(root, 'build', 'unrelated.txt'), 'output files do not count');
  assert.equal(uiIsCurrent(root), true);
  writeFileSync(join(root, 'app', 'routes', '+page.svelte'), '<h1>two</h1>');
  assert.equal(uiIsCurrent(root), false, 'a changed page');
  writeFileSync(join(root, 'app', 'routes', '+page.svelte'), '<h1>one</h1>');
  writeFileSync(join(root, 'package-lock.json'), '{}');
  assert.equal(uiIsCurrent(root), false, 'a changed lockfile');
});

test('the runner install command downloads the package from the server it registers with', () => {
  assert.equal(tarballUrl('https://ci.example/', '1.2.3'), 'https://ci.example/downloads/flowyard-1.2.3.tgz');
  assert.equal(
    runnerInstallCommand('https://ci.example/', '1.2.3', 'fy_reg_x', 'linux,gpu'),
    'npx --yes https://ci.example/downloads/flowyard-1.2.3.tgz runner --url https://ci.example --token fy_reg_x --labels linux,gpu',
  );
});
