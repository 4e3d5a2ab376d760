/** Positions are offsets into the original template source. */
export interface Span {
  offset: number;
  length: number;
}

export interface TemplateError extends Span {
  message: string;
}

export type Literal = string | number | boolean | null;

export type Expr =
  | (Span & { kind: 'dot' })
  | (Span & { kind: 'var'; name: string })
  | (Span & { kind: 'literal'; value: Literal })
  /** `.a.b` (base is dot), `$x.a`, `(pipeline).a`. */
  | (Span & { kind: 'field'; base: Expr; names: string[] })
  | (Span & { kind: 'pipe'; pipe: Pipeline })
  /** A function call; the span covers the function name. A piped value is appended to `args` at run time. */
  | (Span & { kind: 'call'; name: string; args: Expr[] });

export interface Pipeline extends Span {
  decl: (Span & { name: string })[];
  /** `$x = …` assigns to existing variables instead of declaring new ones. */
  assign: boolean;
  cmds: Expr[];
}

export interface Branch {
  pipe: Pipeline;
  list: Node[];
}

export type Node =
  | (Span & { kind: 'text'; text: string })
  | (Span & { kind: 'action'; pipe: Pipeline })
  /** `else if` / `else with` chains become extra branches. */
  | (Span & { kind: 'if' | 'with'; branches: Branch[]; elseList: Node[] | null })
  | (Span & { kind: 'range'; pipe: Pipeline; list: Node[]; elseList: Node[] | null });

export interface ParsedTemplate {
  readonly source: string;
  readonly nodes: readonly Node[];
}
