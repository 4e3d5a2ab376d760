import type { Expr, Node, ParsedTemplate, Pipeline, Span } from './ast.ts';
import { lookupFunction } from './functions.ts';
import { isMap, isNil, MAX_STRING, printValue, truthy, typeName } from './values.ts';

/** Total `range` iterations allowed in one render, across all loops. */
export const MAX_ITERATIONS = 10_000;
/** Total size of the strings function calls may produce in one render (most of them discarded in loops). */
const MAX_PRODUCED = 64 * MAX_STRING;

export class TemplateRenderError extends Error {
  override readonly name = 'TemplateRenderError';

  constructor(
    message: string,
    /** Position in the template source of the part that failed. */
    readonly offset: number,
    readonly length = 0,
  ) {
    super(message);
  }
}

type Block = Extract<Node, { kind: 'if' | 'with' }>;
type Range = Extract<Node, { kind: 'range' }>;
type Call = Extract<Expr, { kind: 'call' }>;
type Field = Extract<Expr, { kind: 'field' }>;

class Renderer {
  out = '';
  private iterations = 0;
  private produced = 0;
  /** Each variable's values, innermost last. */
  private readonly vars = new Map<string, { value: unknown }[]>();
  /** Variables in declaration order, so that a scope can be unwound. */
  private readonly declared: string[] = [];

  constructor(
    private readonly source: string,
    root: unknown,
    private readonly strict: boolean,
  ) {
    this.declare('$', root);
  }

  private rootField(name: string): unknown {
    const root = this.vars.get('$')?.[0]?.value;
    return isMap(root) && Object.hasOwn(root, name) ? root[name] : undefined;
  }

  private fail(message: string, at: Span): never {
    throw new TemplateRenderError(message, at.offset, at.length);
  }

  /** Runs `compute`, turning any plain error (from a function, JSON encoding…) into a TemplateRenderError at `at`. */
  private guard<T>(at: Span, compute: () => T, prefix = ''): T {
    try {
      return compute();
    } catch (e) {
      if (e instanceof TemplateRenderError) throw e;
      this.fail(prefix + (e instanceof Error ? e.message : String(e)), at);
    }
  }

  private write(s: string, at: Span): void {
    if (this.out.length + s.length > MAX_STRING) this.fail(`output exceeds ${MAX_STRING} characters`, at);
    this.out += s;
  }

  walk(nodes: readonly Node[], dot: unknown): void {
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          this.write(node.text, node);
          break;
        case 'action': {
          const value = this.evalPipeline(node.pipe, dot);
          if (!node.pipe.decl.length)
            this.write(
              this.guard(node, () => printValue(value)),
              node,
            );
          break;
        }
        case 'range':
          this.walkRange(node, dot);
          break;
        default:
          this.walkBlock(node, dot);
      }
    }
  }

  private walkBlock(node: Block, dot: unknown): void {
    const scope = this.declared.length;
    let taken = false;
    for (const branch of node.branches) {
      const value = this.evalPipeline(branch.pipe, dot);
      if (!truthy(value)) continue;
      this.walk(branch.list, node.kind === 'with' ? value : dot);
      taken = true;
      break;
    }
    if (!taken && node.elseList) this.walk(node.elseList, dot);
    this.unwind(scope);
  }

  private walkRange(node: Range, dot: unknown): void {
    const scope = this.declared.length;
    const items = this.rangeItems(this.evalCommands(node.pipe, dot), node.pipe);
    if (!items.length && node.elseList) this.walk(node.elseList, dot);
    for (const [key, value] of items) {
      this.bind(node.pipe, node.pipe.decl.length === 2 ? [key, value] : [value]);
      this.walk(node.list, value);
      this.unwind(scope);
    }
  }

  private rangeItems(value: unknown, at: Span): [unknown, unknown][] {
    const size = Array.isArray(value)
      ? value.length
      : isMap(value)
        ? Object.keys(value).length
        : typeof value === 'number' && Number.isInteger(value)
          ? Math.max(value, 0)
          : isNil(value)
            ? 0
            : this.fail(`range can't iterate over ${typeName(value)} ${printValue(value).slice(0, 40)}`, at);
    this.iterations += size;
    if (this.iterations > MAX_ITERATIONS) this.fail(`range exceeds ${MAX_ITERATIONS} iterations`, at);
    if (Array.isArray(value)) return value.map((item, i) => [i, item]);
    if (isMap(value))
      return Object.keys(value)
        .sort()
        .map((key) => [key, value[key]]);
    return Array.from({ length: size }, (_, i) => [i, i]);
  }

  /** Declares (or, for `=`, assigns) the pipeline's variables. */
  private bind(pipe: Pipeline, values: unknown[]): void {
    pipe.decl.forEach((d, i) => {
      if (pipe.assign) this.variable(d.name, d).value = values[i];
      else this.declare(d.name, values[i]);
    });
  }

  private declare(name: string, value: unknown): void {
    const values = this.vars.get(name) ?? [];
    values.push({ value });
    this.vars.set(name, values);
    this.declared.push(name);
  }

  private unwind(scope: number): void {
    for (const name of this.declared.splice(scope)) this.vars.get(name)?.pop();
  }

  private variable(name: string, at: Span): { value: unknown } {
    return this.vars.get(name)?.at(-1) ?? this.fail(`undefined variable "${name}"`, at);
  }

  private evalPipeline(pipe: Pipeline, dot: unknown): unknown {
    const value = this.evalCommands(pipe, dot);
    this.bind(pipe, [value]);
    return value;
  }

  private evalCommands(pipe: Pipeline, dot: unknown): unknown {
    let value: unknown;
    pipe.cmds.forEach((cmd, i) => {
      const piped = i > 0 ? [value] : [];
      value = cmd.kind === 'call' ? this.evalCall(cmd, dot, piped) : this.evalExpr(cmd, dot);
    });
    return value;
  }

  private evalExpr(e: Expr, dot: unknown): unknown {
    switch (e.kind) {
      case 'dot':
        return dot;
      case 'var':
        return this.variable(e.name, e).value;
      case 'literal':
        return e.value;
      case 'pipe':
        return this.evalCommands(e.pipe, dot);
      case 'call':
        return this.evalCall(e, dot, []);
      case 'field':
        return this.evalField(e, this.evalExpr(e.base, dot));
    }
  }

  private evalField(e: Field, base: unknown): unknown {
    const path = this.source.slice(e.offset, e.offset + e.length);
    let value = base;
    for (const name of e.names) {
      if (isNil(value)) {
        if (!this.strict) return undefined;
        this.fail(`nil value: can't evaluate field "${name}" in ${path}`, e);
      }
      if (!isMap(value)) this.fail(`can't evaluate field "${name}" of ${typeName(value)} in ${path}`, e);
      if (!Object.hasOwn(value, name)) {
        if (!this.strict) return undefined;
        this.fail(`missing key "${name}" in ${path}`, e);
      }
      value = value[name];
    }
    return value;
  }

  private evalCall(call: Call, dot: unknown, piped: unknown[]): unknown {
    const args = [...call.args.map((arg) => () => this.evalExpr(arg, dot)), ...piped.map((v) => () => v)];
    if (call.name === 'and' || call.name === 'or') {
      // Short-circuit like Go: later arguments are not evaluated once the result is known.
      let value: unknown;
      for (const arg of args) {
        value = arg();
        if (truthy(value) === (call.name === 'or')) return value;
      }
      return value;
    }
    const f = lookupFunction(call.name) ?? this.fail(`unknown function "${call.name}"`, call);
    const values = args.map((arg) => arg());
    if (f.readsRoot) values.unshift(this.rootField(f.readsRoot));
    const result = this.guard(call, () => f.call(...values), `error calling ${call.name}: `);
    if (f.readsRoot && result === undefined && this.strict) {
      this.fail(
        `missing key: ${call.name} ${values
          .slice(1)
          .map((v) => JSON.stringify(printValue(v)))
          .join(' ')} found nothing`,
        call,
      );
    }
    if (typeof result === 'string') {
      if (result.length > MAX_STRING) this.fail(`result of ${call.name} exceeds ${MAX_STRING} characters`, call);
      this.produced += result.length;
      if (this.produced > MAX_PRODUCED) this.fail(`functions produced more than ${MAX_PRODUCED} characters in total`, call);
    }
    return result;
  }
}

export function render(template: ParsedTemplate, data: unknown, strict: boolean): string {
  const renderer = new Renderer(template.source, data, strict);
  renderer.walk(template.nodes, data);
  return renderer.out;
}
