import { SecretMasker } from '../../server/engine/masker.ts';

export const FLUSH_BYTES = 64 * 1024;
export const FLUSH_INTERVAL_MS = 100;

export interface LogSink {
  /** One numbered chunk of valid UTF-8 text, secrets already masked. */
  chunk(stepIndex: number, seq: number, text: string): void;
}

/**
 * Collects one step's output and hands it to the sink in numbered chunks, flushed at ~64 KiB or ~100 ms.
 * Bytes are decoded as a UTF-8 stream so a chunk never ends inside a character; ANSI codes pass untouched.
 */
export class StepLogWriter {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly masker: SecretMasker;
  private buffer = '';
  private bufferBytes = 0;
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

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
    this.buffer += text;
    this.bufferBytes += Buffer.byteLength(text, 'utf8');
    if (this.bufferBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
  }

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
