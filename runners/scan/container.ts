// Runs a scanner as a plain command (no shell: the Grype image has none) in an unprivileged container
// without network, with the workspace mounted, and returns the file it wrote. The container is removed
// in every case.
import { type Duplex, Writable } from 'node:stream';
import type Dockerode from 'dockerode';
import { MANAGED_LABEL, ensureImage, errorMessage, statusCodeOf } from '../docker/engine.ts';
import { WORKSPACE_PATH } from '../docker/workspace.ts';
import { type TarEntry, firstFileInTar, tarArchive } from './tar.ts';
import { removeContainer, stopContainer } from '../docker/containers.ts';

export interface ScannerContainerSpec {
  image: string;
  entrypoint: string[];
  args: string[];
  env: Record<string, string>;
  workspaceVolume: string;
  labels: Record<string, string>;
  /** Copied into the created container (paths relative to its root) before it starts. */
  setup: TarEntry[];
  /** Absolute path of the file the scanner writes. */
  outputPath: string;
}

export type ScannerOutcome =
  { status: 'succeeded'; exitCode: 0; output: Buffer } | { status: 'failed'; exitCode: number | null; error: string } | { status: 'interrupted' };

/** Reading the whole SARIF file into memory: refuse anything absurdly large. */
const MAX_OUTPUT_BYTES = 100 * 1024 * 1024;
const OUTPUT_DRAIN_MS = 5000;
const PIDS_LIMIT = 4096;

/** `signal` aborts on cancel or timeout: the container is stopped and the outcome is 'interrupted'. */
export async function runScannerContainer(
  docker: Dockerode,
  spec: ScannerContainerSpec,
  io: { onOutput(chunk: Uint8Array): void; signal: AbortSignal },
): Promise<ScannerOutcome> {
  if (io.signal.aborted) return { status: 'interrupted' };
  try {
    await ensureImage(docker, spec.image, 'if_not_present');
  } catch (error) {
    return { status: 'failed', exitCode: null, error: errorMessage(error) };
  }
  let container: Dockerode.Container;
  try {
    container = await docker.createContainer(containerOptions(spec));
  } catch (error) {
    return { status: 'failed', exitCode: null, error: `could not create the scanner container: ${errorMessage(error)}` };
  }
  let outcome: ScannerOutcome;
  try {
    await container.putArchive(tarArchive(spec.setup), { path: '/' });
    const exit = await runToExit(docker, container, io);
    if (exit === 'interrupted') outcome = { status: 'interrupted' };
    else if (exit !== 0) outcome = { status: 'failed', exitCode: exit, error: `the scanner exited with code ${exit}` };
    else outcome = { status: 'succeeded', exitCode: 0, output: await readOutput(container, spec.outputPath) };
  } catch (error) {
    outcome = io.signal.aborted
      ? { status: 'interrupted' }
      : { status: 'failed', exitCode: null, error: `scanner container ${container.id.slice(0, 12)}: ${errorMessage(error)}` };
  }
  const removalError = await removeContainer(container, 'scanner container');
  return removalError ? { status: 'failed', exitCode: null, error: outcome.status === 'failed' ? `${outcome.error}; ${removalError}` : removalError } : outcome;
}

function containerOptions(spec: ScannerContainerSpec): Dockerode.ContainerCreateOptions {
  return {
    Image: spec.image,
    Entrypoint: spec.entrypoint,
    Cmd: spec.args,
    WorkingDir: WORKSPACE_PATH,
    Env: Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
    Labels: { ...spec.labels, [MANAGED_LABEL]: 'true', 'flowyard.role': 'scan' },
    Tty: false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      Mounts: [{ Type: 'volume', Source: spec.workspaceVolume, Target: WORKSPACE_PATH }],
      NetworkMode: 'none',
      Privileged: false,
      CapDrop: ['ALL'],
      // Read every workspace file whoever owns it (scanning is reading); nothing else.
      CapAdd: ['DAC_READ_SEARCH'],
      SecurityOpt: ['no-new-privileges'],
      Init: true,
      PidsLimit: PIDS_LIMIT,
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}

/** The exit code, or 'interrupted' when `io.signal` stopped the container. */
async function runToExit(
  docker: Dockerode,
  container: Dockerode.Container,
  io: { onOutput(chunk: Uint8Array): void; signal: AbortSignal },
): Promise<number | 'interrupted'> {
  // Attach before start so that no early output is missed.
  const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as Duplex;
  const outputEnded = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  const sink = () => new Writable({ write: (chunk: Buffer, _encoding, done) => (io.onOutput(chunk), done()) });
  docker.modem.demuxStream(stream, sink(), sink());

  let started = false;
  const onAbort = () => started && void stopContainer(container);
  io.signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (io.signal.aborted) return 'interrupted';
    await container.start();
    started = true;
    if (io.signal.aborted) void stopContainer(container); // aborted while starting
    const { StatusCode: exitCode } = (await container.wait()) as { StatusCode: number };
    await settleWithin(outputEnded, OUTPUT_DRAIN_MS);
    return io.signal.aborted ? 'interrupted' : exitCode;
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    stream.destroy();
  }
}

/** The file the scanner wrote, through the archive API of its (exited) container. */
async function readOutput(container: Dockerode.Container, path: string): Promise<Buffer> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = await container.getArchive({ path });
  } catch (error) {
    if (statusCodeOf(error) === 404) throw new Error(`the scanner exited 0 but wrote no report at ${path}`);
    throw error;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of archive) {
    size += (chunk as Buffer).length;
    if (size > MAX_OUTPUT_BYTES) throw new Error(`the report at ${path} is larger than ${MAX_OUTPUT_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return firstFileInTar(Buffer.concat(chunks));
}

function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
