// One step as a `docker exec` in a job container (see job-container.ts). Docker has no "kill exec": a step is
// stopped by signalling, from another exec, every process of the container but its init and idle keeper; only
// one step runs in a job container at a time, so every other process belongs to that step.
import { Writable, type Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { STOP_GRACE_SECONDS } from './containers.ts';
import { errorMessage } from './engine.ts';
import type { OutputStream, StepIO, StepOutcome } from './shell-exec.ts';

/** How long to wait for the exec to end after SIGKILL before the container is given up. */
const KILL_WAIT_MS = 1500;
/** How often to ask whether the exec ended while its output stays open (a process left holding stdout). */
const EXIT_POLL_MS = 1000;
/** How long to wait for output still in flight once the exec ended. */
const OUTPUT_DRAIN_MS = 500;

/**
 * Every process of the container except PID 1 (docker-init), its first child (the idle keeper: `read` takes the
 * first pid of /proc/1/task/1/children) and this shell, signalled with $1, up to $2 rounds. A wrong guess
 * for the keeper kills the keeper instead, which stops the container: never a process spared that should not be.
 */
const SIGNAL_OTHERS = `signal_others() {
  keep=
  read -r keep _ 2>/dev/null </proc/1/task/1/children
  round=0
  while [ "$round" -lt "$2" ]; do
    round=$((round + 1)); left=
    for d in /proc/[0-9]*; do
      p=\${d#/proc/}
      case "$p" in 1|"$keep"|"$$") continue ;; esac
      kill "-$1" "$p" 2>/dev/null && left=1
    done
    [ -z "$left" ] && return 0
  done
}`;

/**
 * Runs the step's script ($1) as a child, then kills whatever it left behind (background processes would keep
 * the exec's output open and outlive the step), and exits with the script's status. TERM from a cancel ends the
 * script; the trap (a handler, which children do not inherit, unlike an ignored signal) keeps this shell alive to clean up.
 */
const STEP_WRAPPER = `${SIGNAL_OTHERS}
trap : TERM
/bin/sh -c "$1"
status=$?
signal_others KILL 3
exit "$status"`;

const KILL_OTHERS = `${SIGNAL_OTHERS}\nsignal_others "$1" "$2"`;

export type ExecInterruption = 'timed_out' | 'cancelled' | 'output_failed';

export interface ExecStepResult {
  outcome: Omit<StepOutcome, 'durationMs'>;
  /** The step may have left processes or state behind that the next step must not meet: give the container up. */
  discard: boolean;
}

export interface ExecStepSpec {
  script: string;
  env: Record<string, string>;
  timeoutMs?: number;
}

/** Signals every process of the step running in `container` (see SIGNAL_OTHERS); runs without the step's environment. */
export async function signalStepProcesses(container: Dockerode.Container, signal: 'TERM' | 'KILL', rounds = 3): Promise<void> {
  const exec = await container.exec({
    Cmd: ['/bin/sh', '-c', KILL_OTHERS, 'flowyard-kill', signal, String(rounds)],
    Env: [],
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
  // The output (none) closes when the signalling shell is done.
  await settleWithin(
    new Promise<void>((resolve) => {
      stream
        .once('close', resolve)
        .once('end', resolve)
        .once('error', () => resolve());
      stream.resume();
    }),
    KILL_WAIT_MS,
  );
  stream.destroy();
}

/** Runs one step as an exec in the running job container; never throws for step-level problems. */
export async function runExecStep(docker: Dockerode, container: Dockerode.Container, spec: ExecStepSpec, io: StepIO): Promise<ExecStepResult> {
  const exec = await container.exec({
    Cmd: ['/bin/sh', '-c', STEP_WRAPPER, 'flowyard-step', spec.script],
    Env: Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
  let outputError: unknown;
  let interruption: ExecInterruption | undefined;
  let discard = false;
  let ended = false;
  const timers: NodeJS.Timeout[] = [];
  const later = (ms: number, action: () => void) => timers.push(setTimeout(action, ms));

  let outputClosed = false;
  const outputEnded = new Promise<void>((resolve) => {
    const close = () => ((outputClosed = true), resolve());
    stream.once('end', close);
    stream.once('close', close);
    stream.once('error', close);
  });
  /** Ends when the output closes, or when the exec has ended although a process it left still holds the output. */
  let pollTimer: NodeJS.Timeout | undefined;
  const execEnded = new Promise<void>((resolve) => {
    void outputEnded.then(resolve);
    const poll = async () => {
      const info = await exec.inspect().catch(() => null);
      if (ended) return;
      if (info && !info.Running) {
        await settleWithin(outputEnded, OUTPUT_DRAIN_MS);
        if (!outputClosed) discard = true; // something the wrapper could not kill holds the output
        return resolve();
      }
      pollTimer = setTimeout(() => void poll(), EXIT_POLL_MS);
    };
    pollTimer = setTimeout(() => void poll(), EXIT_POLL_MS);
  });

  // The grace period counts from the interruption, not from when the TERM exec got through.
  const stop = () => {
    void signalStepProcesses(container, 'TERM', 1).catch(() => undefined);
    later(STOP_GRACE_SECONDS * 1000, () => {
      if (ended) return;
      void signalStepProcesses(container, 'KILL').catch(() => undefined);
      later(KILL_WAIT_MS, () => {
        if (ended) return;
        discard = true;
        stream.destroy(); // the container is removed, which ends whatever still runs in it
      });
    });
  };
  const interrupt = (reason: ExecInterruption) => {
    if (interruption) return;
    interruption = reason;
    stop();
  };
  const sink = (name: OutputStream) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        try {
          io.onOutput(chunk, name);
          done();
        } catch (error) {
          done(error as Error);
        }
      },
    }).on('error', (error) => {
      outputError ??= error;
      interrupt('output_failed');
    });
  docker.modem.demuxStream(stream, sink('stdout'), sink('stderr'));

  const onAbort = () => interrupt('cancelled');
  io.signal?.addEventListener('abort', onAbort, { once: true });
  if (io.signal?.aborted) onAbort();
  if (spec.timeoutMs !== undefined) later(spec.timeoutMs, () => interrupt('timed_out'));
  try {
    await execEnded;
    ended = true;
    const info = await exec.inspect();
    switch (interruption) {
      case 'timed_out':
        return { outcome: { exitCode: null, status: 'timed_out', error: `step timed out after ${spec.timeoutMs} ms` }, discard };
      case 'cancelled':
        return { outcome: { exitCode: null, status: 'cancelled' }, discard };
      case 'output_failed':
        return { outcome: { exitCode: null, status: 'failed', error: `output handler failed: ${errorMessage(outputError)}` }, discard };
    }
    const exitCode = info.ExitCode ?? null;
    if (exitCode === 0) return { outcome: { exitCode, status: 'succeeded' }, discard };
    return { outcome: { exitCode, status: 'failed' }, discard };
  } finally {
    ended = true;
    clearTimeout(pollTimer);
    for (const timer of timers) clearTimeout(timer);
    io.signal?.removeEventListener('abort', onAbort);
    stream.destroy();
  }
}

function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
