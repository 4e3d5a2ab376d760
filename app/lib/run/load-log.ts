import { fetchLog, LogStream, type LogStreamStatus } from './log-stream';
import { TerminalWriter } from './terminal-writer';
import type { LogPane, LogScreen } from './xterm';

export type LogStatus = LogStreamStatus | 'loading';

export interface LogHandlers {
  status(status: LogStatus): void;
  /** How much of the log has been received: lines and characters. */
  received(lines: number, chars: number): void;
  /** The server sent only the last lines the terminal keeps; the rest is in the raw download. */
  truncated(flag: boolean): void;
  failed(error: unknown): void;
}

/** A running step's log: drawn at once and written as it streams. Returns what stops it. */
export function streamLog(screen: LogScreen, url: string, on: LogHandlers): () => void {
  const pane = screen.prepare();
  screen.show(pane);
  const writer = new TerminalWriter(pane.term);
  const stream = new LogStream(url, {
    text(text) {
      writer.push(text);
      on.received(writer.totalLines, writer.totalChars);
    },
    status: on.status,
  });
  return () => {
    stream.close();
    writer.dispose();
  };
}

/** Logs longer than this show their last screens first (the whole window takes tens of ms to parse). */
const PREVIEW_AFTER_LINES = 2000;
const PREVIEW_SCREENS = 2;

/**
 * A finished step's log: downloaded raw, parsed off screen and then drawn. A long one first shows its
 * last screens, then the whole window the terminal keeps, parsed meanwhile. Returns what stops it.
 */
export function loadLog(screen: LogScreen, url: string, on: LogHandlers): () => void {
  const controller = new AbortController();
  const full = screen.prepare();
  const writer = new TerminalWriter(full.term, { hold: true });
  let preview: LogPane | undefined;
  const received = (text: string) => {
    writer.push(text);
    // Made while the rest downloads, so that only the writing is left once it has.
    if (!preview && writer.totalLines > PREVIEW_AFTER_LINES) preview = screen.prepare();
  };
  const load = async () => {
    on.status('loading');
    // Only what the terminal keeps: a finished 1 GiB log shows as fast as a small one.
    const tailUrl = `${url}${url.includes('?') ? '&' : '?'}tail_lines=${full.term.options.scrollback ?? 10_000}`;
    const { truncated } = await fetchLog(tailUrl, received, controller.signal);
    on.truncated(truncated);
    if (preview) {
      const pane = preview;
      await new Promise<void>((parsed) => pane.term.write(writer.tail(PREVIEW_SCREENS * pane.term.rows), parsed));
      if (controller.signal.aborted) return;
      screen.show(pane);
      on.received(writer.totalLines, writer.totalChars);
    }
    await writer.finish();
    if (controller.signal.aborted) return;
    screen.show(full);
    preview = undefined;
    on.received(writer.totalLines, writer.totalChars);
    on.status('ended');
  };
  load().catch((error: unknown) => {
    if (!controller.signal.aborted) on.failed(error);
  });
  return () => {
    controller.abort();
    writer.dispose();
    screen.discard(full);
    if (preview) screen.discard(preview);
  };
}
