/**
 * Remote plugin services the runner starts itself: one process per plugin version (by digest) per runner,
 * started on first use in its unpacked archive, reused by every later step, stopped with the runner.
 * It listens on FLOWYARD_PLUGIN_ADDRESS: `unix:///<socket>` in a folder only the runner's user can enter,
 * or `tcp://127.0.0.1:<port>` when its runtime says transport: tcp.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PluginProcessSpec {
  /** Identifies the plugin version and transport: one process per key; also names its socket. */
  key: string;
  label: string;
  command: readonly string[];
  cwd: string;
  transport: 'unix' | 'tcp';
}

interface Running {
  child: ChildProcess;
  address: string;
  exited: Promise<void>;
}

const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 2000;
/** What a plugin process inherits from the runner's environment; nothing else (no tokens, no FLOWYARD_* settings). */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function canConnect(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = address.startsWith('unix://')
      ? createConnection(address.slice('unix://'.length))
      : createConnection(Number(address.split(':').at(-1)), '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class PluginProcesses {
  private readonly running = new Map<string, Promise<Running>>();
  private socketDir: Promise<string> | undefined;
  private stopped = false;

  constructor(private readonly log: (line: string) => void = () => undefined) {}

  /** The address of the plugin's service, starting it when it is not running yet. */
  async address(spec: PluginProcessSpec): Promise<string> {
    if (this.stopped) throw new Error('the runner is stopping: no plugin process is started');
    let pending = this.running.get(spec.key);
    if (!pending) {
      pending = this.start(spec);
      this.running.set(spec.key, pending);
      pending.catch(() => this.running.delete(spec.key));
    }
    return (await pending).address;
  }

  private async start(spec: PluginProcessSpec): Promise<Running> {
    const address =
      spec.transport === 'tcp'
        ? `tcp://127.0.0.1:${await freeLoopbackPort()}`
        : `unix://${join(await (this.socketDir ??= mkdtemp(join(tmpdir(), 'flowyard-plugins-'))), `${spec.key}.sock`)}`;
    const [program, ...args] = spec.command;
    const env = Object.fromEntries(INHERITED_ENV.filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]!]));
    // `node` means the runner's own Node, so a plugin runs with the version the runner was tested with.
    const child = spawn(program === 'node' ? process.execPath : program!, args, {
      cwd: spec.cwd,
      env: { ...env, FLOWYARD_PLUGIN_ADDRESS: address },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const relay = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-2000);
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) this.log(`plugin ${spec.label}: ${line}`);
    };
    child.stdout!.on('data', relay);
    child.stderr!.on('data', relay);
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once('error', (error) => {
        output += `\n${error.message}`;
        exitCode = null;
        resolve();
      });
      child.once('exit', (code) => {
        exitCode = code;
        resolve();
      });
    });
    void exited.then(() => {
      this.running.delete(spec.key);
      if (!this.stopped) this.log(`plugin ${spec.label} exited (${exitCode ?? 'signal'}); it is started again for its next step`);
    });

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await canConnect(address))) {
      if (exitCode !== undefined) throw new Error(`plugin ${spec.label} exited before serving on ${address}: ${output.trim() || 'no output'}`);
      if (Date.now() > deadline || this.stopped) {
        child.kill('SIGKILL');
        throw new Error(`plugin ${spec.label} did not serve on ${address} within ${START_TIMEOUT_MS} ms: ${output.trim() || 'no output'}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.log(`started plugin ${spec.label} (pid ${child.pid}) on ${address}`);
    return { child, address, exited };
  }

  /** Stops every plugin process: SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    this.stopped = true;
    const all = await Promise.allSettled(this.running.values());
    this.running.clear();
    await Promise.all(
      all.map(async (settled) => {
        if (settled.status !== 'fulfilled') return;
        const { child, exited } = settled.value;
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
    if (this.socketDir) await rm(await this.socketDir, { recursive: true, force: true });
  }
}
