import { isAlias, isCollection, isPair, isScalar, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { Diagnostic } from './diagnostics.ts';

export const MAX_SOURCE_BYTES = 1024 * 1024;
export const MAX_NESTING_DEPTH = 64;
export const MAX_ALIAS_COUNT = 100;

/** The parsed YAML with what is needed to point diagnostics back at the text. */
export interface SourceDocument {
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** Plain JS value of the document (aliases resolved). */
  value: unknown;
}

export type ParseOutcome = { ok: true; source: SourceDocument } | { ok: false; diagnostics: Diagnostic[] };

const limitError = (code: string, message: string, line = 1, column = 1): Diagnostic => ({
  severity: 'error',
  code,
  message,
  path: '',
  line,
  column,
});

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence, or -1. */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}

/** Decodes bytes strictly as UTF-8; on failure reports the line and column of the first bad byte. */
export function decodeUtf8(bytes: Uint8Array): { ok: true; text: string } | { ok: false; diagnostic: Diagnostic } {
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    const bad = Math.max(0, firstInvalidUtf8Byte(bytes));
    const lines = new TextDecoder().decode(bytes.subarray(0, bad)).split('\n');
    const message = `the file is not valid UTF-8: byte 0x${(bytes[bad] ?? 0).toString(16).padStart(2, '0')} at offset ${bad}`;
    return { ok: false, diagnostic: limitError('invalid_utf8', message, lines.length, (lines.at(-1)?.length ?? 0) + 1) };
  }
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

export function positionOf(lineCounter: LineCounter, offset: number): { line: number; column: number } {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** Walks the node tree without recursion; returns the first node nested deeper than the limit. */
function findTooDeep(root: Node | null): Node | null {
  if (!root) return null;
  const stack: Array<[Node, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > MAX_NESTING_DEPTH) return node;
    if (!isCollection(node)) continue;
    for (const item of node.items as unknown[]) {
      if (isPair(item)) {
        if (item.value && typeof item.value === 'object') stack.push([item.value as Node, depth + 1]);
        if (isCollection(item.key)) stack.push([item.key, depth + 1]);
      } else if (item && typeof item === 'object') stack.push([item as Node, depth + 1]);
    }
  }
  return null;
}

function countAliases(root: Node | null): { count: number; first: Node | null } {
  let count = 0;
  let first: Node | null = null;
  const stack: unknown[] = root ? [root] : [];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node)) {
      count++;
      if (!first || (node.range?.[0] ?? 0) < (first.range?.[0] ?? 0)) first = node;
    } else if (isPair(node)) stack.push(node.key, node.value);
    else if (isCollection(node)) stack.push(...(node.items as unknown[]));
  }
  return { count, first };
}

/**
 * The last text parsed and its outcome, held weakly: a build and the service checks after it (environment access,
 * runner labels) point at the same text, and parsing a 5,000-step workflow costs tens of MiB, so while the outcome
 * is still in use it is shared instead of parsed again. Once it is collected, the text is let go as well.
 */
let lastParse: { input: string; outcome: WeakRef<ParseOutcome> } | undefined;
const forgetParse = new FinalizationRegistry<WeakRef<ParseOutcome>>((outcome) => {
  if (lastParse?.outcome === outcome) lastParse = undefined;
});

/** Parses one YAML document with positions, enforcing the size, depth, alias and document-count limits. */
export function parseSource(input: string | Uint8Array): ParseOutcome {
  if (typeof input !== 'string') return parseFresh(input);
  const known = lastParse?.input === input ? lastParse.outcome.deref() : undefined;
  if (known) return known;
  const outcome = parseFresh(input);
  lastParse = { input, outcome: new WeakRef(outcome) };
  forgetParse.register(outcome, lastParse.outcome);
  return outcome;
}

function parseFresh(input: string | Uint8Array): ParseOutcome {
  let text: string;
  if (typeof input === 'string') {
    if (utf8Length(input) > MAX_SOURCE_BYTES) {
      return { ok: false, diagnostics: [limitError('too_large', `the workflow is larger than the ${MAX_SOURCE_BYTES / 1024 / 1024} MiB limit`)] };
    }
    const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(input);
    if (lone) {
      const before = input.slice(0, lone.index).split('\n');
      return {
        ok: false,
        diagnostics: [
          limitError(
            'invalid_utf8',
            'the text contains an unpaired UTF-16 surrogate, which is not valid Unicode',
            before.length,
            (before.at(-1)?.length ?? 0) + 1,
          ),
        ],
      };
    }
    text = input;
  } else {
    if (input.byteLength > MAX_SOURCE_BYTES) {
      return { ok: false, diagnostics: [limitError('too_large', `the workflow is larger than the ${MAX_SOURCE_BYTES / 1024 / 1024} MiB limit`)] };
    }
    const decoded = decodeUtf8(input);
    if (!decoded.ok) return { ok: false, diagnostics: [decoded.diagnostic] };
    text = decoded.text;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const all = Array.isArray(docs) ? docs : [];
  if (all.length === 0 || (all.length === 1 && all[0]!.contents === null && all[0]!.errors.length === 0)) {
    return { ok: false, diagnostics: [limitError('empty_document', 'the workflow is empty: expected a YAML mapping with name and pipelines')] };
  }
  if (all.length > 1) {
    const second = all[1]!;
    const pos = positionOf(lineCounter, second.range[0]);
    return {
      ok: false,
      diagnostics: [limitError('multiple_documents', 'the file holds more than one YAML document; a workflow is a single document', pos.line, pos.column)],
    };
  }
  const doc = all[0]!;
  if (doc.errors.length > 0) {
    return {
      ok: false,
      diagnostics: doc.errors.map((error) => {
        const pos = positionOf(lineCounter, error.pos[0]);
        const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return { severity: 'error', code: 'yaml_syntax', message, path: '', line: pos.line, column: pos.column };
      }),
    };
  }
  const tooDeep = findTooDeep(doc.contents as Node | null);
  if (tooDeep) {
    const pos = positionOf(lineCounter, tooDeep.range?.[0] ?? 0);
    return { ok: false, diagnostics: [limitError('too_deep', `the document nests deeper than ${MAX_NESTING_DEPTH} levels`, pos.line, pos.column)] };
  }
  const aliases = countAliases(doc.contents as Node | null);
  if (aliases.count > MAX_ALIAS_COUNT) {
    const pos = positionOf(lineCounter, aliases.first?.range?.[0] ?? 0);
    return {
      ok: false,
      diagnostics: [limitError('too_many_aliases', `the document uses ${aliases.count} aliases; at most ${MAX_ALIAS_COUNT} are allowed`, pos.line, pos.column)],
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch {
    const pos = positionOf(lineCounter, aliases.first?.range?.[0] ?? 0);
    const message = 'aliases expand to too large a document (a "billion laughs" pattern); use fewer nested aliases';
    return { ok: false, diagnostics: [limitError('alias_expansion', message, pos.line, pos.column)] };
  }
  if (value === null || value === undefined) {
    return { ok: false, diagnostics: [limitError('empty_document', 'the workflow is empty: expected a YAML mapping with name and pipelines')] };
  }
  if (!isScalar(doc.contents) && typeof value === 'object' && !Array.isArray(value)) {
    return { ok: true, source: { text, doc, lineCounter, value } };
  }
  const pos = positionOf(lineCounter, (doc.contents as Node | null)?.range?.[0] ?? 0);
  return { ok: false, diagnostics: [limitError('not_a_mapping', 'the workflow must be a YAML mapping with name and pipelines', pos.line, pos.column)] };
}
