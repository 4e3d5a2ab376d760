import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eq } from 'drizzle-orm';
import { openDatabase } from '../../db/client.ts';
import { users } from '../../db/schema.ts';
import { authenticatePassword, createSession, createUser, userForSession } from '../../server/services/auth.ts';
import { freshDatabase } from '../helpers/db.ts';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin', 'flowyard.js');

/** Runs bin/flowyard.js without the server settings this process may have (DATABASE_URL, FLOWYARD_*), plus `settings`. */
function flowyard(args: string[], settings: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'DATABASE_URL' && !name.startsWith('FLOWYARD_'))), ...settings };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// How fast it answers is a figure of `npm run bench` (tests/bench/cli-help.ts), not a timed test.
test('flowyard --help lists every command, and each command has its usage', async () => {
  const help = await flowyard(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: flowyard <command>/);
  for (const command of ['serve', 'validate', 'try-activate', 'runner', 'exec', 'admin reset-password'])
    assert.match(help.stdout, new RegExp(`\\n  ${command} `));
  const one = await flowyard(['exec', '--help']);
  assert.equal(one.code, 0);
  assert.match(one.stdout, /^usage: flowyard exec FILE .*--approve-gates/);
});

test('an unknown option gets one line naming it and the command usage, not a parser stack trace', async () => {
  for (const [args, line] of [
    [['validate', '--bogus', 'x.yaml'], 'flowyard validate: unknown option --bogus'],
    [['serve', '--prot', '9000'], 'flowyard serve: unknown option --prot'],
    [['runner', '--url'], "flowyard runner: Option '--url <value>' argument missing"],
    [['serve', 'extra'], 'flowyard serve: unexpected argument extra'],
  ] as const) {
    const result = await flowyard([...args]);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.trimEnd().split('\n');
    assert.deepEqual(lines.length, 2, result.stderr);
    assert.equal(lines[0], line);
    assert.match(lines[1]!, new RegExp(`^usage: flowyard ${args[0]} `));
    assert.ok(!/ERR_PARSE_ARGS|\n\s+at /.test(result.stderr));
  }
  const unknown = await flowyard(['deploy']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^flowyard: unknown command "deploy"/);
});

test('try-activate numbers the steps of each pipeline and names the job only when a gate splits it', async () => {
  const result = await flowyard(['try-activate', 'examples/scan-approve-deploy.yaml']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /pipeline deliver \(manual; 2 jobs\)\n {4}1\. source {2}step\.shell_exec {2}\(job 1\)\n/);
  assert.match(result.stdout, / {4}5\. approval {2}step\.gate {2}\(job 1\)\n {4}6\. deploy {2}step\.deploy {2}\(job 2\)\n/);
  assert.match(result.stdout, /pipeline nightly-scan \(schedule "0 3 \* \* \*"; 1 job\)\n {4}1\. deps {2}step\.scan_deps\n/);
  assert.ok(!result.stdout.includes('\x1b['));
});

test('a bad setting stops serve before it touches anything: one line naming the variable, exit 1', async () => {
  const data = join(mkdtempSync(join(tmpdir(), 'flowyard-badconf-')), 'data');
  const result = await flowyard(['serve', '--port', '0', '--data', data, '--no-runner'], { FLOWYARD_LEASE_MS: 'abc' });
  assert.equal(result.code, 1);
  assert.equal(result.stderr, 'flowyard: FLOWYARD_LEASE_MS must be a whole number of milliseconds ≥ 1000, got "abc"\n');
  assert.equal(result.stdout, '');
  assert.ok(!existsSync(data), 'no data folder was created');
  const flag = await flowyard(['runner', '--url', 'http://127.0.0.1:1', '--capacity', 'many']);
  assert.equal(flag.code, 1);
  assert.equal(flag.stderr, 'flowyard: --capacity must be a whole number from 1 to 64, got "many"\n');
});

function occupy(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

test('serve on a busy port says so in one line, exits 1 and creates no admin', async () => {
  const busy = await occupy();
  const port = (busy.address() as AddressInfo).port;
  const data = mkdtempSync(join(tmpdir(), 'flowyard-busy-'));
  try {
    const result = await flowyard(['serve', '--port', String(port), '--host', '127.0.0.1', '--data', data, '--no-runner']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `flowyard: port ${port} is in use; use --port\n`);
    assert.ok(!result.stdout.includes('password'), result.stdout);
    const handle = await openDatabase(`file:${join(data, 'flowyard.db')}`);
    try {
      assert.deepEqual(await handle.db.select({ id: users.id }).from(users), [], 'no user was created');
    } finally {
      handle.close();
    }
  } finally {
    busy.close();
  }
});

test('admin reset-password prints a one-time password that must be changed and ends the sessions', async () => {
  const database = await freshDatabase('flowyard-admin-cli-');
  try {
    const user = await createUser(database.db, { email: 'ops@example.test', name: 'Ops', role: 'admin', password: 'the-old-password-1' });
    const session = await createSession(database.db, user.id);

    const reset = await flowyard(['admin', 'reset-password', 'OPS@example.test', '--data', database.dir]);
    assert.equal(reset.code, 0, reset.stderr);
    const password = /new one-time password for OPS@example\.test: (\S+)\n/.exec(reset.stdout)?.[1];
    assert.ok(password, reset.stdout);
    assert.ok(await authenticatePassword(database.db, 'ops@example.test', password));
    assert.equal(await authenticatePassword(database.db, 'ops@example.test', 'the-old-password-1'), null);
    const [row] = await database.db.select({ must: users.mustChangePassword }).from(users).where(eq(users.id, user.id));
    assert.equal(row?.must, true);
    assert.equal(await userForSession(database.db, session.token), null, 'old sessions are ended');

    const unknown = await flowyard(['admin', 'reset-password', 'nobody@example.test', '--data', database.dir]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'flowyard admin: no user with email nobody@example.test\n');

    const empty = mkdtempSync(join(tmpdir(), 'flowyard-admin-empty-'));
    const missing = await flowyard(['admin', 'reset-password', 'ops@example.test', '--data', empty]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^flowyard admin: no Flowyard database at .*flowyard\.db; point --data at the server's data folder\n$/);
  } finally {
    database.cleanup();
  }
});
