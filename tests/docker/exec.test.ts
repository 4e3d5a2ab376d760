import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;

function execFile(yaml: string, args: string[] = []): Promise<{ code: number | null; output: string; firstOutputMs: number; totalMs: number }> {
  const file = join(mkdtempSync(join(tmpdir(), 'flowyard-exec-')), 'workflow.yaml');
  writeFileSync(file, yaml);
  const started = Date.now();
  let firstOutputMs = -1;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'exec', file, ...args], { cwd: root, env: { ...process.env, MY_TOKEN: 'tok-from-env' } });
    let output = '';
    const collect = (chunk: Buffer) => {
      if (firstOutputMs < 0 && chunk.toString().includes('first')) firstOutputMs = Date.now() - started;
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('close', (code) => resolve({ code, output, firstOutputMs, totalMs: Date.now() - started }));
  });
}

test('flowyard exec runs a file on the local engine, prints live and exits with the result', async () => {
  const ok = await execFile(`name: local
secrets: [MY_TOKEN]
pipelines:
  main:
    inputs: { who: { type: string, default: nobody } }
    steps:
      - name: hello
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo first {{ .Inputs.who }}", "sleep 2", "echo token=$MY_TOKEN"] }
`, ['--input', 'who=tester', '--secret', 'MY_TOKEN']);
  assert.equal(ok.code, 0, ok.output);
  assert.match(ok.output, /first tester/);
  assert.match(ok.output, /token=\*\*\*/);
  assert.ok(!ok.output.includes('tok-from-env'));
  assert.ok(ok.firstOutputMs > 0 && ok.firstOutputMs < ok.totalMs - 1500, `live: first line at ${ok.firstOutputMs} of ${ok.totalMs} ms`);
  assert.match(ok.output, /main: succeeded/);

  const failed = await execFile(`name: local\npipelines:\n  main:\n    steps:\n      - { name: boom, type: step.shell_exec, config: { image: flowyard/busybox:latest, commands: ["exit 3"] } }\n`);
  assert.equal(failed.code, 1);
  assert.match(failed.output, /main: failed \(step boom failed: exit code 3\)/);

  const invalid = await execFile('name: local\npipelines:\n  main:\n    steps: []\n');
  assert.equal(invalid.code, 1);
  assert.match(invalid.output, /workflow\.yaml:4:12: error:/);
});
