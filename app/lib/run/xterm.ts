/** xterm.js and its addons, loaded only by the pages that show logs (`await import('$lib/run/xterm')`). */
import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Terminal } from '@xterm/xterm';

/** Lines kept above the screen: a 10,000-line buffer stays in the tens of MiB; the raw download has all. */
const SCROLLBACK = 10_000;

const theme = {
  background: '#0f1218',
  foreground: '#d8dee9',
  cursor: '#0f1218',
  selectionBackground: '#3b5bdb88',
  black: '#1b2230',
  red: '#ff6b6b',
  green: '#69db7c',
  yellow: '#ffd43b',
  blue: '#74c0fc',
  magenta: '#da77f2',
  cyan: '#66d9e8',
  white: '#dee2e6',
  brightBlack: '#7c8798',
  brightRed: '#ff8787',
  brightGreen: '#8ce99a',
  brightYellow: '#ffe066',
  brightBlue: '#a5d8ff',
  brightMagenta: '#e599f7',
  brightCyan: '#99e9f2',
  brightWhite: '#f8f9fa',
};

const decorations = {
  matchBackground: '#5c4813',
  matchOverviewRuler: '#ffd43b',
  activeMatchBackground: '#b35c00',
  activeMatchColorOverviewRuler: '#ffa94d',
};

export interface LogScreenEvents {
  /** Whether the reader scrolled up from the end (the terminal then stops following it). */
  scrolled(up: boolean): void;
  searchResults(results: { index: number; count: number }): void;
}

/** One read-only terminal with its addons: `\n` starts a new line, no cursor, no input. */
export class LogPane {
  readonly term: Terminal;
  readonly fit = new FitAddon();
  readonly search = new SearchAddon();

  constructor(size: { cols?: number; rows?: number }, events: LogScreenEvents) {
    this.term = new Terminal({
      ...size,
      // The search addon highlights matches with decorations, still a "proposed" API in xterm 6.
      allowProposedApi: true,
      convertEol: true,
      disableStdin: true,
      cursorBlink: false,
      cursorInactiveStyle: 'none',
      scrollback: SCROLLBACK,
      fontFamily: "ui-monospace, 'SFMono-Regular', 'JetBrains Mono', Menlo, Consolas, monospace",
      fontSize: 13,
      theme,
    });
    this.term.loadAddon(this.fit);
    this.term.loadAddon(this.search);
    const buffer = () => this.term.buffer.active;
    this.term.onScroll(() => events.scrolled(buffer().viewportY < buffer().baseY));
    this.search.onDidChangeResults(({ resultIndex, resultCount }) => events.searchResults({ index: resultIndex, count: resultCount }));
  }
}

/**
 * The log panel's terminal in `host`. Each log gets a fresh pane, prepared off screen and then shown in
 * place of the previous one: xterm parses text ~10× faster before it is attached (an attached terminal
 * updates its scroll area for every new line), so a long finished log is parsed first and drawn once.
 */
export class LogScreen {
  #shown: LogPane | undefined;

  constructor(
    private readonly host: HTMLElement & { terminal?: Terminal },
    private readonly events: LogScreenEvents,
  ) {
    this.show(this.prepare());
  }

  get term(): Terminal {
    return this.#shown!.term;
  }

  /** An empty pane the size of the one shown, not drawn until `show()`. */
  prepare(): LogPane {
    const term = this.#shown?.term;
    return new LogPane(term ? { cols: term.cols, rows: term.rows } : {}, this.events);
  }

  /** Draws `pane` in place of the pane shown so far. For tests and the browser console it is `host.terminal`. */
  show(pane: LogPane): void {
    if (pane === this.#shown) return;
    this.#shown?.term.dispose();
    this.#shown = pane;
    pane.term.open(this.host);
    pane.fit.fit();
    this.host.terminal = pane.term;
    this.events.scrolled(false);
  }

  /** Disposes a prepared pane that will not be shown after all. */
  discard(pane: LogPane): void {
    if (pane !== this.#shown) pane.term.dispose();
  }

  /** Sizes the terminal to its host. */
  fit(): void {
    this.#shown?.fit.fit();
  }

  /** Highlights every match and selects the next (or previous) one; false when there is none. */
  find(query: string, direction: 'next' | 'previous', incremental = false): boolean {
    const search = this.#shown!.search;
    return direction === 'next' ? search.findNext(query, { decorations, incremental }) : search.findPrevious(query, { decorations });
  }

  clearSearch(): void {
    this.#shown?.search.clearDecorations();
  }

  dispose(): void {
    this.#shown?.term.dispose();
  }
}
