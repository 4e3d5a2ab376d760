import type { Branch, Expr, Literal, Node, ParsedTemplate, Pipeline, Span, TemplateError } from './ast.ts';
import { lookupFunction, TEMPLATE_FUNCTIONS } from './functions.ts';
import { lex, type Token } from './lexer.ts';

/** Deepest nesting of blocks and parentheses; it bounds recursion in the parser, the renderer and the analyses. */
export const MAX_DEPTH = 64;
/** Parsing stops after this many errors, so garbage input cannot produce unbounded work. */
const MAX_ERRORS = 100;

/** Thrown to abandon the current action (the error is already recorded); parsing resumes after it. */
const ABORT = Symbol('abort action');
/** Thrown to abandon the whole parse. */
const FATAL = Symbol('abort parse');

type BlockKind = 'if' | 'range' | 'with';
const isBlockKind = (word: string): word is BlockKind => word === 'if' || word === 'range' || word === 'with';
const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with']);
const UNSUPPORTED = new Set(['define', 'template', 'block', 'break', 'continue']);
const LITERALS = new Map<string, Literal>([
  ['true', true],
  ['false', false],
  ['nil', null],
]);
const PAREN = 'parenthesized pipeline';
/** Stands in for a pipeline that failed to parse; the template is discarded anyway. */
const BROKEN: Pipeline = { decl: [], assign: false, cmds: [], offset: 0, length: 0 };

const span = (t: Span): Span => ({ offset: t.offset, length: t.length });

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function didYouMean(name: string): string {
  let best = '';
  let bestDistance = 3;
  for (const candidate of Object.keys(TEMPLATE_FUNCTIONS)) {
    if (Math.abs(candidate.length - name.length) >= bestDistance) continue;
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best ? `; did you mean "${best}"?` : '';
}

class Parser {
  readonly errors: TemplateError[] = [];
  private i = 0;
  private lastEnd = 0;
  private depth = 0;
  private readonly vars = new Set(['$']);
  /** Variables added to `vars`, in order, so that a block can remove the ones declared inside it. */
  private readonly declared: string[] = [];

  constructor(
    private readonly src: string,
    private readonly tokens: readonly Token[],
  ) {}

  parseRoot(): Node[] {
    const nodes: Node[] = [];
    while (this.parseList(nodes) !== 'eof') {
      this.next();
      const word = this.next();
      this.error(`unexpected {{${word.value}}}`, word);
      this.skipAction();
    }
    return nodes;
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.i + ahead, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    this.lastEnd = t.offset + t.length;
    return t;
  }

  private text(s: Span): string {
    return this.src.slice(s.offset, s.offset + s.length);
  }

  private error(message: string, at: Span): void {
    this.errors.push({ message, ...span(at) });
    if (this.errors.length >= MAX_ERRORS) throw FATAL;
  }

  private fail(message: string, at: Span): never {
    this.error(message, at);
    throw ABORT;
  }

  private fatal(at: Span): never {
    this.error(`nesting too deep (more than ${MAX_DEPTH} levels)`, at);
    throw FATAL;
  }

  private unexpected(t: Token, context: string): never {
    if (t.kind === 'error') this.fail(t.value, t);
    this.fail(`unexpected ${JSON.stringify(this.text({ offset: t.offset, length: Math.min(t.length, 40) }))} in ${context}`, t);
  }

  /** Skips the rest of a broken action, up to and including its `}}`. */
  private skipAction(): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'leftDelim' || t.kind === 'text' || t.kind === 'eof') return;
      this.next();
      if (t.kind === 'rightDelim') return;
    }
  }

  private guarded<T>(parse: () => T, fallback: T): T {
    const depth = this.depth;
    try {
      return parse();
    } catch (e) {
      if (e !== ABORT) throw e;
      this.depth = depth;
      this.skipAction();
      return fallback;
    }
  }

  private expectClose(context: string): void {
    const t = this.peek();
    if (t.kind !== 'rightDelim') this.unexpected(t, context);
    this.next();
  }

  /** Parses nodes into `nodes` until EOF or an `{{end}}`/`{{else}}` action, which is left unconsumed. */
  private parseList(nodes: Node[]): 'end' | 'else' | 'eof' {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') return 'eof';
      if (t.kind === 'leftDelim') {
        const word = this.peek(1);
        if (word.kind === 'ident' && (word.value === 'end' || word.value === 'else')) return word.value;
        const node = this.parseAction();
        if (node) nodes.push(node);
        continue;
      }
      this.next();
      if (t.kind === 'text') nodes.push({ kind: 'text', text: t.value, ...span(t) });
      else if (t.kind === 'error') this.error(t.value, t);
    }
  }

  private parseAction(): Node | null {
    const open = this.next();
    const word = this.peek();
    if (word.kind === 'ident' && isBlockKind(word.value)) return this.parseBlock(word.value);
    return this.guarded<Node | null>(() => {
      const pipe = this.parsePipeline('command');
      this.expectClose('command');
      return { kind: 'action', pipe, offset: open.offset, length: this.lastEnd - open.offset };
    }, null);
  }

  private parseBlock(kind: BlockKind): Node {
    const keyword = this.next();
    if (++this.depth > MAX_DEPTH) this.fatal(keyword);
    const scope = this.declared.length;
    let list: Node[] = [];
    const first: Branch = { pipe: this.controlPipeline(kind), list };
    const branches = [first];
    let elseList: Node[] | null = null;
    for (;;) {
      const stop = this.parseList(list);
      if (stop === 'eof') {
        this.error(`missing {{end}} for {{${kind}}}`, keyword);
        break;
      }
      this.next();
      const word = this.next();
      if (stop === 'end') {
        this.guarded(() => this.expectClose('{{end}}'), undefined);
        break;
      }
      const chained = this.peek();
      if (elseList) {
        this.error('unexpected {{else}} after {{else}}', word);
        this.skipAction();
      } else if (kind !== 'range' && chained.kind === 'ident' && chained.value === kind) {
        this.next();
        list = [];
        branches.push({ pipe: this.controlPipeline(kind), list });
      } else {
        this.guarded(() => this.expectClose('{{else}}'), undefined);
        list = elseList = [];
      }
    }
    for (const name of this.declared.splice(scope)) this.vars.delete(name);
    this.depth--;
    return kind === 'range' ? { kind, pipe: first.pipe, list: first.list, elseList, ...span(keyword) } : { kind, branches, elseList, ...span(keyword) };
  }

  private controlPipeline(kind: BlockKind): Pipeline {
    return this.guarded(() => {
      const pipe = this.parsePipeline(kind);
      this.expectClose(kind);
      return pipe;
    }, BROKEN);
  }

  private parsePipeline(context: string): Pipeline {
    const start = this.peek();
    const decl: Pipeline['decl'] = [];
    let assign = false;
    if (context !== PAREN && start.kind === 'var') {
      const two = this.peek(1).kind === 'comma' && this.peek(2).kind === 'var';
      const op = this.peek(two ? 3 : 1).kind;
      if (op === 'declare' || op === 'assign') {
        if (two && context !== 'range') this.fail(`too many declarations in ${context}`, this.peek(1));
        const declared = (t: Token) => ({ name: this.text(t), ...span(t) });
        decl.push(declared(this.next()));
        if (two) {
          this.next();
          decl.push(declared(this.next()));
        }
        assign = this.next().kind === 'assign';
        for (const d of decl) if (assign && !this.vars.has(d.name)) this.error(`undefined variable "${d.name}"`, d);
      }
    }
    const cmds: Expr[] = [];
    for (;;) {
      cmds.push(this.parseCommand(context, cmds.length > 0));
      if (this.peek().kind !== 'pipe') break;
      this.next();
    }
    for (const { name } of decl) {
      if (assign || this.vars.has(name)) continue;
      this.vars.add(name);
      this.declared.push(name);
    }
    return { decl, assign, cmds, offset: start.offset, length: this.lastEnd - start.offset };
  }

  private parseCommand(context: string, piped: boolean): Expr {
    const t = this.peek();
    if (t.kind === 'rightDelim' || t.kind === 'rparen' || t.kind === 'pipe') this.fail(`missing value for ${context}`, t);
    if (t.kind === 'ident' && !LITERALS.has(t.value)) {
      this.next();
      this.checkKeyword(t.value, t, context);
      const args: Expr[] = [];
      while (this.hasArgument()) args.push(this.parseOperand('command'));
      this.checkCall(t.value, t, args.length + (piped ? 1 : 0));
      return { kind: 'call', name: t.value, args, ...span(t) };
    }
    const expr = this.parseOperand(context);
    if (this.hasArgument()) this.fail(`can't give argument to non-function ${this.text(expr)}`, this.peek());
    if (piped) this.error(`can't pipe into non-function ${this.text(expr)}`, expr);
    if (expr.kind === 'literal' && expr.value === null) this.error('nil is not a command', expr);
    return expr;
  }

  /** Whether another argument follows; arguments must be separated by spaces. */
  private hasArgument(): boolean {
    const t = this.peek();
    if (t.kind === 'rightDelim' || t.kind === 'rparen' || t.kind === 'pipe') return false;
    if (t.kind === 'error' || t.offset === this.lastEnd) this.unexpected(t, 'operand');
    return true;
  }

  private checkKeyword(name: string, at: Span, context: string): void {
    if (KEYWORDS.has(name)) this.fail(`unexpected keyword "${name}" in ${context}`, at);
    if (UNSUPPORTED.has(name)) this.fail(`{{${name}}} is not supported`, at);
  }

  private checkCall(name: string, at: Span, argc: number): void {
    const f = lookupFunction(name);
    if (!f) return this.error(`unknown function "${name}"${didYouMean(name)}`, at);
    if (argc >= f.minArgs && argc <= f.maxArgs) return;
    const want = f.maxArgs === Infinity ? `at least ${f.minArgs}` : f.minArgs === f.maxArgs ? `${f.minArgs}` : `${f.minArgs} to ${f.maxArgs}`;
    this.error(`wrong number of args for ${name}: want ${want} got ${argc}`, at);
  }

  private parseOperand(context: string): Expr {
    const t = this.peek();
    let expr: Expr;
    switch (t.kind) {
      case 'field':
        this.next();
        return this.chain({ kind: 'dot', offset: t.offset, length: 0 }, [t.value]);
      case 'dot':
        this.next();
        expr = { kind: 'dot', ...span(t) };
        break;
      case 'var':
        this.next();
        if (!this.vars.has(t.value)) this.error(`undefined variable "${t.value}"`, t);
        expr = { kind: 'var', name: t.value, ...span(t) };
        break;
      case 'string':
      case 'number':
        this.next();
        expr = { kind: 'literal', value: t.value, ...span(t) };
        break;
      case 'ident': {
        this.next();
        const literal = LITERALS.get(t.value);
        if (literal !== undefined) {
          expr = { kind: 'literal', value: literal, ...span(t) };
        } else {
          this.checkKeyword(t.value, t, context);
          this.checkCall(t.value, t, 0);
          expr = { kind: 'call', name: t.value, args: [], ...span(t) };
        }
        break;
      }
      case 'lparen':
        expr = this.parseParens(t);
        break;
      default:
        this.unexpected(t, context);
    }
    const field = this.peek();
    if (field.kind !== 'field' || field.offset !== this.lastEnd) return expr;
    if (expr.kind !== 'var' && expr.kind !== 'pipe') this.fail(`unexpected ".${field.value}" after ${this.text(expr)}`, field);
    return this.chain(expr, []);
  }

  /** Collects the fields written directly after `base` (`.a.b`, `$x.a`, `(…).a`). */
  private chain(base: Expr, names: string[]): Expr {
    for (let t = this.peek(); t.kind === 'field' && t.offset === this.lastEnd; t = this.peek()) {
      names.push(t.value);
      this.next();
    }
    return { kind: 'field', base, names, offset: base.offset, length: this.lastEnd - base.offset };
  }

  private parseParens(open: Token): Expr {
    this.next();
    if (++this.depth > MAX_DEPTH) this.fatal(open);
    const pipe = this.parsePipeline(PAREN);
    if (this.peek().kind !== 'rparen') this.fail('unclosed left paren', open);
    this.next();
    this.depth--;
    return { kind: 'pipe', pipe, offset: open.offset, length: this.lastEnd - open.offset };
  }
}

export function parseTemplate(source: string): { template: ParsedTemplate | null; errors: TemplateError[] } {
  const parser = new Parser(source, lex(source));
  let nodes: Node[] = [];
  try {
    nodes = parser.parseRoot();
  } catch (e) {
    if (e !== FATAL) throw e;
  }
  const errors = parser.errors.sort((a, b) => a.offset - b.offset);
  return errors.length ? { template: null, errors } : { template: { source, nodes }, errors };
}
