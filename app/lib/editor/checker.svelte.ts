import type { BuildResult } from '$lib/api/types';

const afterNextPaint = (run: () => void) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(run)));

export interface CheckerOptions {
  /** Quiet time that ends a burst of edits. */
  debounceMs: number;
  /** Check an edit at once when nothing was edited for `debounceMs` (a lone keystroke gets its answer fastest). */
  leading: boolean;
  /** Called with each answer that belongs to the newest text, as soon as it arrives. */
  onResult?: (result: BuildResult) => void;
}

/**
 * Builds the editor's text on the server as it changes: debounced, at most one request in flight, and
 * only the answer for the newest text is kept (answers for text that has changed since are dropped).
 */
export class Checker {
  /** The answer for `checkedVersion`. */
  result = $state<BuildResult | undefined>();
  checkedVersion = $state(-1);
  error = $state<unknown>();
  busy = $state(false);

  #latest: { yaml: string; version: number } | undefined;
  #sent = -1;
  #pending = false;
  #lastLeadingEdit = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #controller = new AbortController();

  constructor(
    private readonly build: (yaml: string, signal: AbortSignal) => Promise<BuildResult>,
    private readonly options: CheckerOptions,
  ) {}

  /**
   * The text changed; `version` grows with every change. `leading: false` (a co-editor's edit) always waits
   * for its burst to end, and does not count as typing for the next leading edit.
   */
  edited(yaml: string, version: number, leading = this.options.leading): void {
    this.#latest = { yaml, version };
    clearTimeout(this.#timer);
    const now = performance.now();
    if (leading && now - this.#lastLeadingEdit >= this.options.debounceMs) this.#send();
    else this.#timer = setTimeout(() => this.#send(), this.options.debounceMs);
    if (leading) this.#lastLeadingEdit = now;
  }

  /** Checks this text now, whatever the debounce (Ctrl+S, after a publish). */
  now(yaml: string, version: number): void {
    this.#latest = { yaml, version };
    clearTimeout(this.#timer);
    this.#send(true);
  }

  /** Whether the last answer belongs to the newest text. */
  isCurrent(version: number): boolean {
    return this.checkedVersion === version;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#controller.abort();
  }

  #send(force = false): void {
    this.#timer = undefined;
    const job = this.#latest;
    if (!job) return;
    if (this.busy) {
      this.#pending = true;
      return;
    }
    if (!force && job.version === this.#sent) return;
    this.#sent = job.version;
    this.busy = true;
    this.build(job.yaml, this.#controller.signal)
      .then((result) => {
        if (job.version !== this.#latest?.version) return;
        this.options.onResult?.(result);
        // The panels showing `result` (a plan graph can have hundreds of nodes) re-render only after the
        // markers set above have painted: Monaco takes them in a task, then renders in the next frame.
        afterNextPaint(() => {
          if (job.version !== this.#latest?.version) return;
          this.result = result;
          this.checkedVersion = job.version;
          this.error = undefined;
        });
      })
      .catch((error: unknown) => {
        if (!this.#controller.signal.aborted && job.version === this.#latest?.version) this.error = error;
      })
      .finally(() => {
        this.busy = false;
        // Text that changed while this request ran goes next, unless a burst is still being debounced.
        if (this.#pending && !this.#timer) this.#send();
        this.#pending = false;
      });
  }
}
