import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin', 'flowyard.js');

interface ExecResult {
  code: number | null;
  output: string;
  firstOutputMs: number;
  totalMs: number;
  dir: string;
}

/** Runs `flowyard exec` in a new folder holding the workflow; `answer` is typed once the gate question shows. */
function execFile(
  yaml: string,
  args: string[] = [],
  options: { tty?: boolean; answer?: string; env?: NodeJS.ProcessEnv; files?: Record<string, string> } = {},
): Promise<ExecResult> {
  const dir = mkdtempSync(join(tmpdir(), 'flowyard-exec-'));
  writeFileSync(join(dir, 'workflow.yaml'), yaml);
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), text);
  const argv = [process.execPath, bin, 'exec', 'workflow.yaml', ...args];
  // `script` gives the command a pseudo-terminal, as a user's shell would.
  const [command, ...commandArgs] = options.tty ? ['script', '-qec', argv.map((a) => `'${a}'`).join(' '), '/dev/null'] : argv;
  const started = Date.now();
  let firstOutputMs = -1;
  return new Promise((resolve) => {
    const child = spawn(command!, commandArgs, { cwd: dir, env: { ...process.env, MY_TOKEN: 'tok-from-env', ...options.env } });
    let output = '';
    let answered = false;
    const collect = (chunk: Buffer) => {
      if (firstOutputMs < 0 && chunk.toString().includes('first')) firstOutputMs = Date.now() - started;
      output += chunk.toString();
      if (options.answer !== undefined && !answered && output.includes('approve? [y/n]')) {
        answered = true;
        child.stdin.write(options.answer);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    if (!options.tty) child.stdin.end();
    child.on('close', (code) => resolve({ code, output, firstOutputMs, totalMs: Date.now() - started, dir }));
  });
}

test('flowyard exec runs a file on the local engine, prints live and exits with the result', async () => {
  const ok = await execFile(
    `name: local
secrets: [MY_TOKEN]
pipelines:
  main:
    inputs: { who: { type: string, default: nobody } }
    steps:
      - name: hello
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo first {{ .Inputs.who }}", "sleep 2", "echo token=$MY_TOKEN"] }
`,
    ['--input', 'who=tester', '--secret', 'MY_TOKEN'],
  );
  assert.equal(ok.code, 0, ok.output);
  assert.match(ok.output, /first tester/);
  assert.match(ok.output, /token=\*\*\*/);
  assert.ok(!ok.output.includes('tok-from-env'));
  assert.ok(ok.firstOutputMs > 0 && ok.firstOutputMs < ok.totalMs - 1500, `live: first line at ${ok.firstOutputMs} of ${ok.totalMs} ms`);
  assert.match(ok.output, /main: succeeded/);
  assert.ok(!ok.output.includes('\x1b['), 'no colours when stdout is not a terminal');

  const failed = await execFile(
    `name: local\npipelines:\n  main:\n    steps:\n      - { name: boom, type: step.shell_exec, config: { image: flowyard/busybox:latest, commands: ["exit 3"] } }\n`,
  );
  assert.equal(failed.code, 1);
  assert.match(failed.output, /main: failed \(step boom failed: exit code 3\)/);

  const invalid = await execFile('name: local\npipelines:\n  main:\n    steps: []\n');
  assert.equal(invalid.code, 1);
  assert.match(invalid.output, /workflow\.yaml:4:12: error:/);
});

const GATED = `name: gated
pipelines:
  release:
    trigger: { type: http, config: { path: /push/gated } }
    steps:
      - name: build
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo ref={{ .trigger.ref }}", "echo built-in-job-1 > out.txt", "mkdir -p dist && echo report > dist/report.txt"] }
      - name: keep
        type: step.artifact_push
        config: { key: reports/build, path: dist }
      - name: approval
        type: step.gate
        config: { type: manual, message: "ship {{ .steps.keep.key }}?" }
      - name: deploy
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["cat out.txt", "echo DEPLOYED"] }
`;

test('a webhook payload is the trigger data; --approve-gates passes the gate; artifacts are kept and their folder printed', async () => {
  const run = await execFile(GATED, ['--event', 'webhook', '--payload', 'push.json', '--approve-gates'], { files: { 'push.json': '{"ref":"refs/tags/v9"}' } });
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /ref=refs\/tags\/v9/);
  assert.match(run.output, /approval approved: approved by --approve-gates/);
  // The job after the gate starts from the workspace the job before it left.
  assert.match(run.output, /built-in-job-1\n[^]*DEPLOYED/);
  const printed = /artifacts kept in (\.flowyard\/artifacts\/local-[a-z0-9]+)\/: reports\/build\.tar/.exec(run.output);
  assert.ok(printed, run.output);
  assert.ok(existsSync(join(run.dir, printed[1]!, 'reports', 'build.tar')));
  assert.deepEqual(readdirSync(join(run.dir, printed[1]!)), ['reports'], 'the workspace carried across the gate is not kept');

  const badPayload = await execFile(GATED, ['--event', 'webhook', '--payload', 'push.json'], { files: { 'push.json': '{not json' } });
  assert.equal(badPayload.code, 1);
  assert.match(badPayload.output, /--payload push\.json: not JSON/);
});

test('a gate without a terminal and without a flag fails clearly; --reject-gates rejects; nothing after the gate runs', async () => {
  const undecided = await execFile(GATED);
  assert.equal(undecided.code, 1);
  assert.match(undecided.output, /gate "approval" needs a decision and there is no terminal to ask: pass --approve-gates or --reject-gates/);
  assert.ok(!undecided.output.includes('DEPLOYED'), undecided.output);

  const rejected = await execFile(GATED, ['--reject-gates']);
  assert.equal(rejected.code, 1);
  assert.match(rejected.output, /release: failed \(gate approval rejected: rejected by --reject-gates\)/);
  assert.ok(!rejected.output.includes('DEPLOYED'), rejected.output);
});

test('on a terminal the gate asks and waits for the answer; NO_COLOR turns colours off there too', async () => {
  const run = await execFile(GATED, [], { tty: true, answer: 'y\n', env: { NO_COLOR: '1' } });
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /gate "approval": ship reports\/build\? — approve\? \[y\/n\]/);
  assert.match(run.output, /approval approved: approved on the terminal/);
  assert.match(run.output, /DEPLOYED/);
  assert.ok(!run.output.includes('\x1b['), 'NO_COLOR: no escape sequences');
});
