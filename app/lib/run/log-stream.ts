/**
 * A step's log from the API: `LogStream` while the step runs, `fetchLog` once it has finished.
 *
 * The stream is server-sent events (`event: log`, `id: <seq>`, `data: <JSON string>`, then one `event: end`).
 * The browser reconnects by itself with `Last-Event-ID`; when it gives up (the server answered an error,
 * e.g. during a restart) we reopen from the last chunk written, passing it as `lastEventId`. Either way a
 * chunk whose sequence we have already written is dropped, so a dropped connection leaves neither a gap
 * nor a repeat.
 */

export type LogStreamStatus = 'connecting' | 'live' | 'reconnecting' | 'ended';

export interface LogStreamHandlers {
  text(text: string): void;
  /** `ended`: the step is over and all its log was delivered. */
  status(status: LogStreamStatus): void;
}

const RETRY_MS = 1000;
const MAX_RETRY_MS = 15_000;

export class LogStream {
  #lastSeq = -1;
  #source: EventSource | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retries = 0;
  #closed = false;

  constructor(
    private readonly url: string,
    private readonly handlers: LogStreamHandlers,
  ) {
    this.#open();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#source?.close();
  }

  #open(): void {
    this.handlers.status(this.#lastSeq < 0 ? 'connecting' : 'reconnecting');
    const url = new URL(this.url, location.href);
    if (this.#lastSeq >= 0) url.searchParams.set('lastEventId', String(this.#lastSeq));
    const source = (this.#source = new EventSource(url));
    source.addEventListener('open', () => {
      this.#retries = 0;
      this.handlers.status('live');
    });
    source.addEventListener('log', (event) => {
      const seq = Number(event.lastEventId);
      if (!(seq > this.#lastSeq)) return;
      this.#lastSeq = seq;
      this.handlers.text(JSON.parse(event.data) as string);
    });
    source.addEventListener('end', () => {
      this.close();
      this.handlers.status('ended');
    });
    source.addEventListener('error', () => {
      if (this.#closed) return;
      if (source.readyState === EventSource.CONNECTING) {
        this.handlers.status('reconnecting');
        return;
      }
      source.close();
      this.handlers.status('reconnecting');
      const delay = Math.min(RETRY_MS * 2 ** this.#retries++, MAX_RETRY_MS);
      this.#retryTimer = setTimeout(() => this.#open(), delay);
    });
  }
}

/**
 * A finished step's log as raw text, handed over piece by piece as it downloads; resolves whether the server
 * left out earlier lines (a `tail_lines` request).
 */
export async function fetchLog(url: string, text: (text: string) => void, signal: AbortSignal): Promise<{ truncated: boolean }> {
  const response = await fetch(url, { signal, credentials: 'same-origin' });
  if (!response.ok || !response.body) throw new Error(`the log could not be loaded: the server answered ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (let piece = await reader.read(); !piece.done; piece = await reader.read()) text(piece.value);
  return { truncated: response.headers.get('X-Log-Truncated') === '1' };
}
