import type { Terminal } from '@xterm/xterm';
import { LogSanitizer } from './log-sanitize';

/** RIS, a full reset: in band, so it clears the terminal after whatever was written before it is parsed. */
const RESET = '\x1bc';
/** xterm yields to the page between writes, not within one: large batches go in pieces of this many characters. */
const SLICE = 16 * 1024;

interface Chunk {
  text: string;
  lines: number;
}

function countLines(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}

/** `text` from the start of its last `keep` lines. */
function lastLines(text: string, keep: number): string {
  let at = text.length;
  for (let seen = 0; seen <= keep; seen += 1) {
    at = text.lastIndexOf('\n', at - 1);
    if (at === -1) return text;
  }
  return text.slice(at + 1);
}

/**
 * Feeds log text to one terminal at most once per animation frame, and only after xterm has parsed the
 * previous batch, so a fast log becomes a few large writes instead of thousands of small ones and the page
 * keeps painting. The terminal keeps `scrollback + rows` lines; text that would scroll out of it before it
 * is ever shown is dropped unparsed (a 100,000-line log costs the parsing of its tail only), and the
 * terminal is reset when a batch alone fills it. Colours set in dropped text do not carry over.
 * With `hold`, nothing is written until `finish()`: for a log that is complete already.
 * Text passes `LogSanitizer` first: a step's output keeps its colours but cannot move the cursor or erase.
 */
export class TerminalWriter {
  #pending: Chunk[] = [];
  #pendingLines = 0;
  #reset = false;
  #frame = 0;
  #busy = false;
  #hold: boolean;
  #parsed: (() => void) | undefined;
  #sanitizer = new LogSanitizer();
  /** Lines shown and characters received, to tell whether the terminal holds all of them (or anything). */
  totalLines = 0;
  totalChars = 0;

  constructor(
    private readonly term: Terminal,
    options: { hold?: boolean } = {},
  ) {
    this.#hold = options.hold ?? false;
  }

  get #capacity(): number {
    return (this.term.options.scrollback ?? 0) + this.term.rows;
  }

  push(received: string): void {
    this.totalChars += received.length;
    const text = this.#sanitizer.push(received);
    if (text === '') return;
    const chunk = { text, lines: countLines(text) };
    this.totalLines += chunk.lines;
    this.#pending.push(chunk);
    this.#pendingLines += chunk.lines;
    // Whole chunks that the newer ones would push out of the terminal anyway.
    while (this.#pending.length > 1 && this.#pendingLines - this.#pending[0]!.lines >= this.#capacity) {
      this.#pendingLines -= this.#pending.shift()!.lines;
      this.#reset = true;
    }
    this.#schedule();
  }

  /** The last `lines` lines of what is pending, e.g. to show the end of a held log first. */
  tail(lines: number): string {
    return lastLines(this.#pending.map((c) => c.text).join(''), lines);
  }

  /** Writes everything held or pending at once; resolves when xterm has parsed it. */
  finish(): Promise<void> {
    this.#hold = false;
    return new Promise((resolve) => {
      this.#parsed = resolve;
      if (!this.#busy) this.#flush();
    });
  }

  dispose(): void {
    cancelAnimationFrame(this.#frame);
    this.#pending = [];
  }

  #schedule(): void {
    if (this.#frame === 0 && !this.#busy && !this.#hold) this.#frame = requestAnimationFrame(() => this.#flush());
  }

  #flush(): void {
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    let text = this.#pending.length === 1 ? this.#pending[0]!.text : this.#pending.map((c) => c.text).join('');
    if (this.#reset || this.#pendingLines >= this.#capacity) text = RESET + lastLines(text, this.#capacity - 1);
    this.#pending = [];
    this.#pendingLines = 0;
    this.#reset = false;
    this.#busy = true;
    const done = () => {
      this.#busy = false;
      if (this.#pending.length > 0) this.#schedule();
      else this.#parsed?.();
    };
    const slices = Math.max(1, Math.ceil(text.length / SLICE));
    for (let i = 0; i < slices; i += 1) this.term.write(text.slice(i * SLICE, (i + 1) * SLICE), i === slices - 1 ? done : undefined);
  }
}
