import type { Span } from './ast.ts';

export type TokenKind =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'ident'
  | 'field'
  | 'dot'
  | 'var'
  | 'string'
  | 'number'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'error'
  | 'eof';

type TextKind = Exclude<TokenKind, 'number'>;

/** `value` is the decoded text: trimmed text, a field name without its dot, a string's contents, an error message. */
export type Token = Span & ({ kind: 'number'; value: number } | { kind: TextKind; value: string });

const WORD = /[\p{L}\p{N}_]+/uy;
/**
 * Field names may contain inner hyphens (`.steps.build-site.tags`), because step names do. Go's parser
 * rejects such chains outright, so accepting them changes the meaning of no valid Go template.
 */
const FIELD_NAME = /[\p{L}\p{N}_]+(?:-[\p{L}\p{N}_]+)*/uy;
const NUMBER = /[+-]?(?:0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*)?(?:\.[\d_]*)?(?:[eE][+-]?\d[\d_]*)?)/y;
const ESCAPE = /\\(?:([abfnrtv\\"])|x([\da-fA-F]{2})|u([\da-fA-F]{4})|U([\da-fA-F]{8})|([0-7]{3}))/y;
const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
};
const PUNCT: Record<string, TextKind> = { '(': 'lparen', ')': 'rparen', '|': 'pipe', ',': 'comma', '=': 'assign' };

export const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

function matchAt(re: RegExp, src: string, pos: number): string {
  re.lastIndex = pos;
  return re.exec(src)?.[0] ?? '';
}

/** Tokenises the whole source; errors become `error` tokens so the parser can recover and report them in place. */
export function lex(src: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let trimLeading = false;

  const push = (kind: TextKind, offset: number, length: number, value = ''): void => {
    tokens.push({ kind, offset, length, value });
  };

  const text = (end: number, trimTrailing: boolean): void => {
    let from = pos;
    let to = end;
    if (trimLeading) while (from < to && isSpace(src[from])) from++;
    if (trimTrailing) while (to > from && isSpace(src[to - 1])) to--;
    trimLeading = false;
    if (to > from) push('text', pos, end - pos, src.slice(from, to));
  };

  /** Length of the right delimiter at `p`: 2 for `}}`, 4 with a trim marker (` -}}`), 0 if there is none. */
  const rightDelimAt = (p: number): number => {
    if (src.startsWith('}}', p)) return 2;
    return isSpace(src[p]) && src.startsWith('-}}', p + 1) ? 4 : 0;
  };

  const comment = (open: number, p: number): number => {
    const close = src.indexOf('*/', p + 2);
    if (close < 0) {
      push('error', open, p + 2 - open, 'unclosed comment');
      return src.length;
    }
    const delim = rightDelimAt(close + 2);
    if (!delim) push('error', close, 2, 'comment ends before closing delimiter');
    trimLeading = delim === 4;
    return close + 2 + delim;
  };

  const quoted = (start: number): number => {
    let value = '';
    let chunk = start + 1;
    let bad: Span | null = null;
    for (let p = start + 1; ;) {
      const c = src[p];
      if (c === undefined || c === '\n') {
        push('error', start, p - start, 'unterminated quoted string');
        return p;
      }
      if (c === '"') {
        if (bad) {
          const escape = JSON.stringify(src.slice(bad.offset, bad.offset + bad.length));
          push('error', bad.offset, bad.length, `invalid escape sequence ${escape}`);
        } else push('string', start, p + 1 - start, value + src.slice(chunk, p));
        return p + 1;
      }
      if (c !== '\\') {
        p++;
        continue;
      }
      value += src.slice(chunk, p);
      ESCAPE.lastIndex = p;
      const m = ESCAPE.exec(src);
      if (m) {
        const [, simple, hex2, hex4, hex8, octal] = m;
        const hex = hex2 ?? hex4 ?? hex8;
        const code = hex === undefined ? parseInt(octal ?? '', 8) : parseInt(hex, 16);
        const invalid = code > (octal === undefined ? 0x10ffff : 0xff) || (code >= 0xd800 && code < 0xe000);
        if (simple !== undefined) value += SIMPLE_ESCAPES[simple];
        else if (invalid) bad ??= { offset: p, length: m[0].length };
        else value += String.fromCodePoint(code);
        p += m[0].length;
      } else {
        bad ??= { offset: p, length: src[p + 1] === undefined || src[p + 1] === '\n' ? 1 : 2 };
        p++;
      }
      chunk = p;
    }
  };

  const number = (start: number): number => {
    const body = matchAt(NUMBER, src, start);
    let end = start + body.length;
    const trailing = matchAt(/[\p{L}\p{N}_.]+/uy, src, end);
    const digits = body.replace(/^[+-]/, '').replaceAll('_', '');
    const value = Number(digits);
    if (trailing || !/\d/.test(digits) || Number.isNaN(value)) {
      end += trailing.length;
      push('error', start, Math.max(end - start, 1), `bad number syntax: ${JSON.stringify(src.slice(start, end))}`);
      return Math.max(end, start + 1);
    }
    tokens.push({ kind: 'number', offset: start, length: end - start, value: body.startsWith('-') ? -value : value });
    return end;
  };

  /** Lexes from just inside `{{` (at `open`) to just past the closing delimiter. */
  const action = (open: number, start: number): number => {
    for (let p = start; ;) {
      if (p >= src.length || src.startsWith('{{', p)) {
        push('error', open, 2, 'unclosed action');
        return p;
      }
      if (src.startsWith('}}', p)) {
        push('rightDelim', p, 2);
        return p + 2;
      }
      const c = src[p] as string;
      if (isSpace(c)) {
        while (isSpace(src[p])) p++;
        if (src.startsWith('-}}', p)) {
          trimLeading = true;
          push('rightDelim', p, 3);
          return p + 3;
        }
        continue;
      }
      const punct = PUNCT[c];
      if (punct) {
        push(punct, p, 1);
        p++;
      } else if (c === ':') {
        if (src[p + 1] === '=') push('declare', p, 2);
        else push('error', p, 1, 'expected :=');
        p += src[p + 1] === '=' ? 2 : 1;
      } else if (c === '"') {
        p = quoted(p);
      } else if (c === '`') {
        const close = src.indexOf('`', p + 1);
        if (close < 0) {
          push('error', p, src.length - p, 'unterminated raw quoted string');
          return src.length;
        }
        push('string', p, close + 1 - p, src.slice(p + 1, close).replaceAll('\r', ''));
        p = close + 1;
      } else if (c === '$') {
        const name = matchAt(WORD, src, p + 1);
        push('var', p, name.length + 1, '$' + name);
        p += name.length + 1;
      } else if (c === '.' && !/\d/.test(src[p + 1] ?? '')) {
        const name = matchAt(FIELD_NAME, src, p + 1);
        push(name ? 'field' : 'dot', p, name.length + 1, name);
        p += name.length + 1;
      } else if (/[\d.+-]/.test(c)) {
        p = number(p);
      } else {
        const word = matchAt(WORD, src, p);
        if (word) {
          push('ident', p, word.length, word);
          p += word.length;
        } else {
          const ch = String.fromCodePoint(src.codePointAt(p) ?? 0);
          push('error', p, ch.length, `unexpected character ${JSON.stringify(ch)} in action`);
          p += ch.length;
        }
      }
    }
  };

  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    if (open < 0) {
      text(src.length, false);
      break;
    }
    const trimLeft = src[open + 2] === '-' && isSpace(src[open + 3]);
    text(open, trimLeft);
    const inner = open + (trimLeft ? 4 : 2);
    if (src.startsWith('/*', inner)) {
      pos = comment(open, inner);
    } else {
      push('leftDelim', open, inner - open);
      pos = action(open, inner);
    }
  }
  push('eof', src.length, 0);
  return tokens;
}
