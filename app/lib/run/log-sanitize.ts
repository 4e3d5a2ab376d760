/**
 * What a step's log may do to the log viewer's terminal: print text, break lines and set colours (SGR,
 * `ESC [ … m`). Everything else a terminal would obey is dropped, so that no step can move the cursor
 * back and overwrite, erase or hide what was printed before it ("all tests passed" over an "error" line):
 * other CSI sequences (cursor movement, erase, scroll regions, `?1049h` alternate screen, save/restore),
 * OSC/DCS/APC/PM/SOS strings (titles, hyperlinks, clipboard), other ESC sequences (reset, charsets, DECALN)
 * and control characters (backspace, form feed, shift in/out, C1 codes). A bare `\r` (progress bars,
 * `\r`-rewritten lines) becomes a line break, as in GitHub Actions logs; `\r\n` is one line break.
 *
 * Stateful: a sequence split across chunks is recognised whole; one unfinished when the log ends shows
 * nothing. Pure (no DOM), so it is unit-tested.
 */

const ESC = '\x1b';
const BEL = '\x07';
/** Longest CSI kept whole; a longer one is still consumed up to its final byte, then dropped. */
const MAX_CSI = 64;

type State =
  | 'text'
  /** After ESC. */
  | 'esc'
  /** After ESC and an intermediate byte (`ESC ( B`, `ESC # 8`): ends at the next final byte. */
  | 'escIntermediate'
  | 'csi'
  /** Inside an OSC, DCS, SOS, PM or APC string: dropped up to BEL or ST. */
  | 'string'
  /** ESC inside a string: `\` ends it (ST), anything else starts a new sequence. */
  | 'stringEsc'
  /** After one or more `\r`: a line break unless a `\n` follows, which then makes it. */
  | 'cr';

/** C1 controls that open a sequence, as their 7-bit ESC forms. */
const C1_INTRODUCERS: Record<string, string> = { '\x9b': '[', '\x9d': ']', '\x90': 'P', '\x98': 'X', '\x9e': '^', '\x9f': '_' };
const STRING_INTRODUCERS = new Set([']', 'P', 'X', '^', '_']);

const isFinalByte = (code: number) => code >= 0x40 && code <= 0x7e;
const isIntermediateByte = (code: number) => code >= 0x20 && code <= 0x2f;
const isParameterByte = (code: number) => code >= 0x30 && code <= 0x3f;
/** Keeps only SGR: `ESC [` digits, `;` and `:`, then `m` (no private markers like `?`, `>`, `<`, `=`). */
const SGR = /^\x1b\[[0-9;:]*m$/;
const SGR_AT = /\x1b\[[0-9;:]{0,60}m/y;
/** Characters plain text stops at: every control except tab and line feed (ESC and `\r` included). */
const SPECIAL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

export class LogSanitizer {
  #state: State = 'text';
  #csi = '';

  /** The part of `chunk` the terminal may show; an unfinished sequence at its end waits for the next chunk. */
  push(chunk: string): string {
    let out = '';
    let at = 0;
    while (at < chunk.length) {
      if (this.#state === 'text') {
        // Plain text up to the next control character is copied in one slice.
        SPECIAL.lastIndex = at;
        const found = SPECIAL.exec(chunk);
        const end = found ? found.index : chunk.length;
        out += chunk.slice(at, end);
        at = end;
        if (!found) break;
        // The common sequence, a whole colour change, is copied without stepping through it.
        SGR_AT.lastIndex = at;
        if (SGR_AT.test(chunk)) {
          out += chunk.slice(at, SGR_AT.lastIndex);
          at = SGR_AT.lastIndex;
          continue;
        }
      }
      const char = chunk[at]!;
      out += this.#step(char, char.charCodeAt(0));
      at += 1;
    }
    return out;
  }

  #step(char: string, code: number): string {
    switch (this.#state) {
      case 'text':
        return this.#text(char, code);
      case 'cr':
        if (char === '\r') return '';
        this.#state = 'text';
        return char === '\n' ? '\n' : `\n${this.#text(char, code)}`;
      case 'esc':
        return this.#afterEsc(char, code);
      case 'escIntermediate':
        if (isIntermediateByte(code)) return '';
        this.#state = 'text';
        return code >= 0x30 && code <= 0x7e ? '' : this.#text(char, code);
      case 'csi':
        return this.#inCsi(char, code);
      case 'string':
        if (char === BEL || char === '\x9c') this.#state = 'text';
        else if (char === ESC) this.#state = 'stringEsc';
        return '';
      case 'stringEsc':
        if (char === '\\') {
          this.#state = 'text';
          return '';
        }
        return this.#afterEsc(char, code);
    }
  }

  #text(char: string, code: number): string {
    if (char === ESC) {
      this.#state = 'esc';
      return '';
    }
    if (char === '\r') {
      this.#state = 'cr';
      return '';
    }
    const introducer = C1_INTRODUCERS[char];
    if (introducer !== undefined) return this.#afterEsc(introducer, introducer.charCodeAt(0));
    if (char === '\n' || char === '\t') return char;
    // C0 controls (backspace, form feed, shift in/out…), DEL and the other C1 controls.
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return '';
    return char;
  }

  #afterEsc(char: string, code: number): string {
    if (char === '[') {
      this.#state = 'csi';
      this.#csi = `${ESC}[`;
      return '';
    }
    if (STRING_INTRODUCERS.has(char)) {
      this.#state = 'string';
      return '';
    }
    if (char === ESC) {
      this.#state = 'esc';
      return '';
    }
    if (isIntermediateByte(code)) {
      this.#state = 'escIntermediate';
      return '';
    }
    this.#state = 'text';
    // A one-character sequence (ESC 7, ESC 8, ESC c, ESC M…) is dropped; a control after ESC is not one.
    return code >= 0x30 && code <= 0x7e ? '' : this.#text(char, code);
  }

  #inCsi(char: string, code: number): string {
    if (isParameterByte(code) || isIntermediateByte(code)) {
      if (this.#csi.length < MAX_CSI) this.#csi += char;
      else this.#csi = '';
      return '';
    }
    this.#state = 'text';
    const sequence = this.#csi;
    this.#csi = '';
    if (isFinalByte(code)) return SGR.test(sequence + char) ? sequence + char : '';
    // Not a CSI after all: drop what was collected, show the character as text.
    return this.#text(char, code);
  }
}

/** `text` as a complete log: what the terminal may show of it (an unfinished sequence at the end shows nothing). */
export function sanitizeLog(text: string): string {
  return new LogSanitizer().push(text);
}
