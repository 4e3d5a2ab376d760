import { SecretMasker } from '../../server/engine/masker.ts';

export const FLUSH_BYTES = 64 * 1024;
/** How long output must pause before what is buffered goes out: a lone line is sent at once, a burst as one chunk. */
export const FLUSH_IDLE_MS = 5;
/** The longest a chunk is held back while output keeps coming. */
export const FLUSH_INTERVAL_MS = 100;

export interface LogSink {
  /** One numbered chunk of valid UTF-8 text, secrets already masked. */
  chunk(stepIndex: number, seq: number, text: string): void;
}

/**
 * Collects one step's output and hands it to the sink in numbered chunks: once output pauses for ~5 ms, and
 * while it keeps coming at ~64 KiB or ~100 ms after the chunk's first byte, whichever comes first.
 * Bytes are decoded as a UTF-8 stream so a chunk never ends inside a character; ANSI codes pass untouched.
 */
export class StepLogWriter {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly masker: SecretMasker;
  private buffer = '';
  private bufferBytes = 0;
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the buffered chunk got its first text, and when its latest (performance.now()). */
  private firstAt = 0;
  private lastAt = 0;

  constructor(
    private readonly stepIndex: number,
    private readonly sink: LogSink,
    secrets: Iterable<string>,
  ) {
    this.masker = new SecretMasker(secrets);
  }

  write(bytes: Uint8Array): void {
    this.append(this.masker.push(this.decoder.decode(bytes, { stream: true })));
  }

  line(text: string): void {
    this.append(this.masker.push(`${text}\n`));
  }

  private append(text: string): void {
    if (!text) return;
    const now = performance.now();
    if (!this.buffer) this.firstAt = now;
    this.lastAt = now;
    this.buffer += text;
    this.bufferBytes += Buffer.byteLength(text, 'utf8');
    if (this.bufferBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(this.onTimer, FLUSH_IDLE_MS);
  }

  /** One timer per chunk, moved on rather than re-armed at every write: output arriving in many small writes stays cheap. */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    const now = performance.now();
    const due = Math.min(this.lastAt + FLUSH_IDLE_MS, this.firstAt + FLUSH_INTERVAL_MS);
    if (now >= due) this.flush();
    else this.timer = setTimeout(this.onTimer, due - now);
  };

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.buffer) return;
    const text = this.buffer;
    this.buffer = '';
    this.bufferBytes = 0;
    this.sink.chunk(this.stepIndex, this.seq++, text);
  }

  /** Ends the step's log: decodes and unmasks nothing further, emits everything held back. */
  close(): void {
    this.append(this.masker.push(this.decoder.decode()));
    this.append(this.masker.flush());
    this.flush();
  }
}
