import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  hasTemplate,
  parseTemplate,
  renderString,
  renderTemplate,
  templateFunctionCalls,
  templateReferences,
  TEMPLATE_FUNCTIONS,
  TemplateRenderError,
} from '../../server/engine/templates/index.ts';

const data = {
  name: 'web',
  x: '  hi  ',
  n: 3,
  obj: { b: 2, a: [1, 'x'] },
  list: [1, 2, 3],
  empty: [],
  nothing: null,
  m: { k: { z: 'deep' }, b: 'B', a: 'A' },
  steps: { build: { image_id: 'sha:1' }, 'build-image': { image_id: 'sha:2', meta: { arch: 'amd64' } } },
  trigger: { ref: 'main' },
  Inputs: { env: 'prod' },
};

const render = (source: string, d: Record<string, unknown> = data, strict = false): string => renderString(source, d, { strict });

/** The first parse error, as `[message, offset, length]`. */
function firstError(source: string): [string, number, number] {
  const { template, errors } = parseTemplate(source);
  assert.equal(template, null, `expected ${JSON.stringify(source)} to fail`);
  const [e] = errors;
  assert.ok(e);
  return [e.message, e.offset, e.length];
}

function renderError(source: string, d: Record<string, unknown> = data, strict = false): [string, number, number] {
  try {
    render(source, d, strict);
  } catch (e) {
    assert.ok(e instanceof TemplateRenderError, `expected a TemplateRenderError, got ${String(e)}`);
    return [e.message, e.offset, e.length];
  }
  assert.fail(`expected ${JSON.stringify(source)} to fail`);
}

describe('functions', () => {
  const cases: [name: string, source: string, expected: string | RegExp][] = [
    ['default', '{{ .missing | default "fb" }}|{{ .name | default "fb" }}|{{ 0 | default 7 }}', 'fb|web|7'],
    ['json', '{{ json .obj }} {{ json .missing }} {{ "a\\"b" | json }}', '{"b":2,"a":[1,"x"]} null "a\\"b"'],
    ['lower', '{{ lower "AbC" }}', 'abc'],
    ['upper', '{{ upper "AbC" }}', 'ABC'],
    ['title', '{{ title "hello wide-world_x 1st" }}', 'Hello Wide-World_x 1st'],
    ['trim', '[{{ trim .x }}]', '[hi]'],
    ['trimPrefix', '{{ trimPrefix "v" "v1.2" }} {{ "x1" | trimPrefix "v" }}', '1.2 x1'],
    ['trimSuffix', '{{ "app.tar.gz" | trimSuffix ".gz" }}', 'app.tar'],
    ['replace', '{{ "a-b-c" | replace "-" "$&" }} {{ replace "" "." "ab" }}', 'a$&b$&c .a.b.'],
    ['contains', '{{ contains "ell" "hello" }} {{ "hello" | contains "z" }}', 'true false'],
    ['hasPrefix', '{{ hasPrefix "he" "hello" }}', 'true'],
    ['hasSuffix', '{{ "hello" | hasSuffix "lo" }} {{ hasSuffix "x" "hello" }}', 'true false'],
    ['split', '{{ split "," "a,b,,c" }} {{ len (split "" "é😀") }}', '["a","b","","c"] 2'],
    ['join', '{{ join ", " .list }} {{ "a,b" | split "," | join "+" }}', '1, 2, 3 a+b'],
    ['toInt', '{{ toInt "42" | add 1 }} {{ toInt 3.9 }} {{ toInt " 0x10 " }}', '43 3 16'],
    ['toFloat', '{{ toFloat "2.5" }} {{ toFloat true }}', '2.5 1'],
    ['toString', '{{ toString 5 | len }} {{ toString .list }}', '1 [1,2,3]'],
    ['len', '{{ len "héllo" }} {{ len .list }} {{ len .m }} {{ len .missing }}', '5 3 3 0'],
    ['index', '{{ index .list 1 }} {{ index .m "k" "z" }} {{ index .m "nope" }}|{{ index .obj }}', '2 deep |{"b":2,"a":[1,"x"]}'],
    ['eq', '{{ eq 1 1 }} {{ eq "a" "b" "a" }} {{ eq 1 "1" }} {{ eq .missing nil }}', 'true true false true'],
    ['ne', '{{ ne 1 2 }} {{ ne "a" "a" }}', 'true false'],
    ['lt', '{{ lt 1 2 }} {{ lt "b" "a" }}', 'true false'],
    ['le', '{{ le 2 2 }} {{ le 3 2 }}', 'true false'],
    ['gt', '{{ gt 2.5 2 }} {{ gt "a" "b" }}', 'true false'],
    ['ge', '{{ ge 2 2 }} {{ ge 1 2 }}', 'true false'],
    ['and', '{{ and 1 "x" }} {{ and 1 0 "x" }}', 'x 0'],
    ['or', '{{ or 0 "" "y" }} {{ or 0 false }}', 'y false'],
    ['not', '{{ not 0 }} {{ not .list }}', 'true false'],
    [
      'printf',
      '{{ printf "%s|%d|%v|%q|%f|%.1f|%5s|%-3d|%05d|%03.1f|%%|%.2s" "a" 42 .list "q" 1.5 2.26 "r" 7 -42 2.5 "xyz" }}',
      'a|42|[1,2,3]|"q"|1.500000|2.3|    r|7  |-0042|2.5|%|xy',
    ],
    ['quote', '{{ quote "a\\"b" }} {{ 5 | quote }}', '"a\\"b" "5"'],
    ['now', '{{ now }}', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/],
    ['uuidv4', '{{ uuidv4 }}', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/],
    ['b64enc', '{{ b64enc "héllo" }}', 'aMOpbGxv'],
    ['b64dec', '{{ b64dec "aMOpbGxv" }} {{ "héllo" | b64enc | b64dec }}', 'héllo héllo'],
    ['sha256', '{{ sha256 "abc" }}', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['add', '{{ add 1 2 3 }} {{ add 0.5 "1" }}', '6 1.5'],
    ['sub', '{{ sub 5 2 }} {{ .n | sub 10 }}', '3 7'],
    ['mul', '{{ mul 2 3 4 }}', '24'],
    ['div', '{{ div 7 2 }} {{ div 7.0 2.5 }} {{ div -7 2 }}', '3 2.8 -3'],
    ['mod', '{{ mod 7 3 }}', '1'],
    [
      'step',
      '{{ step "build-image" "image_id" }} {{ step "build-image" "meta" "arch" }} {{ range .list }}{{ step "build" "image_id" }}{{ end }}|{{ step "nope" "x" }}',
      'sha:2 amd64 sha:1sha:1sha:1|',
    ],
    ['trigger', '{{ trigger "ref" }} {{ trigger "ref" | upper }}|{{ trigger "missing" }}', 'main MAIN|'],
  ];

  for (const [name, source, expected] of cases) {
    test(name, () => {
      const out = render(source);
      if (typeof expected === 'string') assert.equal(out, expected);
      else assert.match(out, expected);
    });
  }

  test('the table above covers every registered function', () => {
    assert.deepEqual(cases.map(([name]) => name).sort(), Object.keys(TEMPLATE_FUNCTIONS).sort());
  });

  test('registry calls work without the renderer', () => {
    assert.equal(TEMPLATE_FUNCTIONS.and?.call(null, 1), null);
    assert.equal(TEMPLATE_FUNCTIONS.or?.call(0, null), null);
    assert.equal(TEMPLATE_FUNCTIONS.replace?.call('a', 'b', 'aXa'), 'bXb');
  });

  test('registry entries are well formed', () => {
    for (const [name, f] of Object.entries(TEMPLATE_FUNCTIONS)) {
      assert.ok(f.description.startsWith(name), name);
      assert.ok(!f.description.includes('\n'), name);
      assert.ok(f.minArgs >= 0 && f.maxArgs >= f.minArgs, name);
    }
    assert.ok(Object.isFrozen(TEMPLATE_FUNCTIONS));
    assert.equal(TEMPLATE_FUNCTIONS.join?.maxArgs, 2);
    assert.equal(TEMPLATE_FUNCTIONS.printf?.maxArgs, Infinity);
  });

  test('sha256 matches node:crypto on assorted inputs', () => {
    const sha = TEMPLATE_FUNCTIONS.sha256!;
    for (const s of ['', 'a', 'é😀\u0000', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(64), 'w'.repeat(1000)]) {
      assert.equal(sha.call(s), createHash('sha256').update(s).digest('hex'), JSON.stringify(s.slice(0, 10)));
    }
  });

  test('functions report errors at the call', () => {
    assert.deepEqual(renderError('{{ index .list 5 }}'), ['error calling index: index out of range: 5', 3, 5]);
    assert.deepEqual(renderError('ab{{ div 1 0 }}'), ['error calling div: division by zero', 5, 3]);
    assert.match(renderError('{{ mod 1 0 }}')[0], /division by zero/);
    assert.match(renderError('{{ lt 1 "a" }}')[0], /incompatible types for comparison: number and string/);
    assert.match(renderError('{{ toInt "abc" }}')[0], /cannot convert string "abc" to a number/);
    assert.match(renderError('{{ b64dec "!!!" }}')[0], /invalid base64/);
    assert.match(renderError('{{ eq .list .list }}')[0], /non-comparable type list/);
    assert.match(renderError('{{ len 5 }}')[0], /len of number/);
    assert.match(renderError('{{ index "abc" 1 }}')[0], /cannot index into string/);
  });
});

describe('rendering', () => {
  test('fields, variables and literals', () => {
    assert.equal(render('{{ .steps.build.image_id }}/{{ .Inputs.env }}'), 'sha:1/prod');
    assert.equal(render('{{ . | len }}'), String(Object.keys(data).length));
    assert.equal(render('{{ $v := .m.k }}{{ $v.z }}{{ $.name }}'), 'deepweb');
    assert.equal(render('{{ 1.5 }} {{ 2 }} {{ .n }} {{ true }} {{ 0x1F }} {{ 1_000 }} {{ -2.5e1 }}'), '1.5 2 3 true 31 1000 -25');
    assert.equal(render(String.raw`{{ "a\tb\n\x41\u00e9\101\\\"" }}`), 'a\tb\nAéA\\"');
    assert.equal(render('{{ `raw\\n "q"` }}'), 'raw\\n "q"');
    assert.equal(render('{{ .obj }}|{{ .nothing }}|{{ .missing }}'), '{"b":2,"a":[1,"x"]}||');
    assert.equal(render('{{ (index .m "k").z }}'), 'deep');
    assert.equal(render('no actions } here {'), 'no actions } here {');
  });

  test('pipes pass the value as the last argument', () => {
    assert.equal(render('{{ "a b" | title | printf "%s!" }}'), 'A B!');
    assert.equal(render('{{ "x" | printf "%s-%s" "y" }}'), 'y-x');
    assert.equal(render('{{ .missing | default "a" | upper }}'), 'A');
    assert.equal(render('{{ upper (printf "%s-%s" .name .Inputs.env) }}'), 'WEB-PROD');
  });

  test('trim markers', () => {
    assert.equal(render('a \n\t {{- .name -}} \n b'), 'awebb');
    assert.equal(render('a {{- .name }} b'), 'aweb b');
    assert.equal(render('a {{ .name -}} b'), 'a webb');
    assert.equal(render('{{ 3 -}}  x'), '3x');
    assert.equal(render('x {{-3}}'), 'x -3');
    assert.equal(render('x  {{- 3 }}'), 'x3');
    assert.equal(render('a {{ .name -}}{{- " " -}} b'), 'a web b');
  });

  test('comments', () => {
    assert.equal(render('a{{/* one\ntwo */}}b'), 'ab');
    assert.equal(render('a {{- /* c */ -}} \n b'), 'ab');
    assert.equal(render('a {{/* c */}} b'), 'a  b');
  });

  test('if / else if / else and truthiness', () => {
    const t = '{{ if eq .v "a" }}A{{ else if eq .v "b" }}B{{ else }}C{{ end }}';
    assert.deepEqual(
      ['a', 'b', 'z'].map((v) => render(t, { v })),
      ['A', 'B', 'C'],
    );
    const truth = '{{ if .v }}T{{ else }}F{{ end }}';
    for (const v of [0, '', false, null, [], {}]) assert.equal(render(truth, { v }), 'F', JSON.stringify(v));
    for (const v of [1, -1, 'a', true, [0], { a: 0 }]) assert.equal(render(truth, { v }), 'T', JSON.stringify(v));
    assert.equal(render(truth, {}), 'F');
    assert.equal(render('{{ if $x := .name }}{{ $x }}{{ else }}none{{ end }}'), 'web');
  });

  test('and / or short-circuit', () => {
    assert.equal(render('{{ if and .empty (gt (index .empty 0) 1) }}y{{ else }}n{{ end }}'), 'n');
    assert.equal(render('{{ or .name (index .empty 0) }}'), 'web');
  });

  test('range over lists, maps and integers', () => {
    assert.equal(render('{{ range .list }}<{{ . }}>{{ end }}'), '<1><2><3>');
    assert.equal(render('{{ range $i, $v := .list }}{{ $i }}={{ $v }},{{ end }}'), '0=1,1=2,2=3,');
    assert.equal(render('{{ range $v := .list }}{{ $v }}{{ end }}'), '123');
    assert.equal(render('{{ range $k, $v := .m }}{{ $k }};{{ end }}'), 'a;b;k;');
    assert.equal(render('{{ range .m }}{{ . }};{{ end }}'), 'A;B;{"z":"deep"};');
    assert.equal(render('{{ range .empty }}x{{ else }}none{{ end }}'), 'none');
    assert.equal(render('{{ range .missing }}x{{ else }}none{{ end }}'), 'none');
    assert.equal(render('{{ range $i := 3 }}{{ $i }}{{ end }}'), '012');
    assert.equal(render('{{ range .list }}{{ $.name }}{{ end }}'), 'webwebweb');
    assert.equal(render('{{ $sum := 0 }}{{ range .list }}{{ $sum = add $sum . }}{{ end }}{{ $sum }}'), '6');
    assert.deepEqual(renderError('{{ range .name }}{{ end }}'), ["range can't iterate over string web", 9, 5]);
  });

  test('with / else with / else', () => {
    assert.equal(render('{{ with .m.k }}{{ .z }}{{ end }}'), 'deep');
    assert.equal(render('{{ with .missing }}A{{ else }}B{{ . | len }}{{ end }}'), `B${Object.keys(data).length}`);
    assert.equal(render('{{ with .missing }}A{{ else with .name }}{{ . }}{{ end }}'), 'web');
    assert.equal(render('{{ with $x := .name }}{{ $x }}{{ . }}{{ end }}'), 'webweb');
  });

  test('strict and non-strict missing keys', () => {
    assert.equal(render('[{{ .a.b.c }}]', { a: {} }), '[]');
    assert.equal(render('[{{ .a.b.c }}]', { a: null }), '[]');
    assert.deepEqual(renderError('x {{ .a.b.c }}', { a: {} }, true), ['missing key "b" in .a.b.c', 5, 6]);
    assert.deepEqual(renderError('{{ .a.b.c }}', { a: { b: null } }, true), [`nil value: can't evaluate field "c" in .a.b.c`, 3, 6]);
    assert.match(renderError('{{ $.nope }}', {}, true)[0], /missing key "nope" in \$\.nope/);
    assert.equal(render('{{ .a.b }}', { a: { b: null } }, true), '');
    assert.match(renderError('{{ .name.first }}')[0], /can't evaluate field "first" of string/);
  });

  test('inherited object properties are not fields', () => {
    assert.equal(render('[{{ .constructor }}{{ .a.toString }}{{ index .a "__proto__" }}]', { a: {} }), '[]');
  });

  test('renderTemplate reuses a parsed template', () => {
    const { template } = parseTemplate('{{ .v | upper }}');
    assert.ok(template);
    assert.equal(renderTemplate(template, { v: 'a' }), 'A');
    assert.equal(renderTemplate(template, { v: 'b' }, { strict: true }), 'B');
  });

  test('parse errors are thrown by renderString as TemplateRenderError', () => {
    assert.deepEqual(renderError('ab {{ uper .x }}'), ['unknown function "uper"; did you mean "upper"?', 6, 4]);
  });
});

describe('limits', () => {
  test('nesting depth is capped for parentheses and blocks', () => {
    const ok = '{{ ' + '('.repeat(64) + '1' + ')'.repeat(64) + ' }}';
    assert.equal(render(ok), '1');
    const parens = '{{ ' + '('.repeat(5000) + '1' + ')'.repeat(5000) + ' }}';
    assert.deepEqual(firstError(parens), ['nesting too deep (more than 64 levels)', 3 + 64, 1]);
    const blocks = '{{if 1}}'.repeat(5000) + '{{end}}'.repeat(5000);
    assert.deepEqual(firstError(blocks), ['nesting too deep (more than 64 levels)', 64 * 8 + 2, 2]);
    assert.equal(parseTemplate(blocks).errors.length, 1);
  });

  test('long else-if chains are not nesting', () => {
    const chain = '{{ if eq .v 0 }}0' + Array.from({ length: 500 }, (_, i) => `{{ else if eq .v ${i + 1} }}${i + 1}`).join('') + '{{ end }}';
    assert.equal(render(chain, { v: 321 }), '321');
  });

  test('output size is capped', () => {
    const big = 'x'.repeat(1000);
    assert.equal(render(`{{ range 1000 }}${big}{{ end }}`).length, 1_000_000);
    assert.deepEqual(renderError(`{{ range 2000 }}${big}{{ end }}`), ['output exceeds 1048576 characters', 16, 1000]);
    assert.match(renderError('{{ .s }}{{ .s }}', { s: 'y'.repeat(600_000) })[0], /output exceeds/);
  });

  test('intermediate values are capped', () => {
    const s = 'x'.repeat(2000);
    assert.deepEqual(renderError('{{ replace "" .s .s }}', { s }), ['error calling replace: result exceeds 1048576 characters', 3, 7]);
    assert.match(renderError('{{ printf "%999999999d" 1 }}')[0], /result exceeds/);
    assert.match(renderError('{{ join .s .l }}', { s, l: Array.from({ length: 1000 }, () => 'a') })[0], /result exceeds/);
  });

  test('total work of function calls is capped', () => {
    const source = '{{ range 90 }}{{ range 90 }}{{ $x := json $ }}{{ end }}{{ end }}';
    assert.match(renderError(source, { a: 'x'.repeat(100_000) })[0], /functions produced more than 67108864 characters in total/);
    assert.equal(render(source, { a: 'x' }), '');
  });

  test('parsing stops after 100 errors', () => {
    const { errors } = parseTemplate('{{ uperr }}'.repeat(1000));
    assert.equal(errors.length, 100);
    assert.equal(errors[99]?.offset, 99 * 11 + 3);
  });

  test('range iterations are capped', () => {
    assert.deepEqual(renderError('{{ range 1e12 }}{{ end }}'), ['range exceeds 10000 iterations', 9, 4]);
    assert.match(renderError('{{ range 200 }}{{ range 200 }}{{ end }}{{ end }}')[0], /range exceeds 10000 iterations/);
    assert.equal(render('{{ range 100 }}{{ range 99 }}{{ end }}{{ end }}'), '');
  });
});

describe('analysis', () => {
  test('hasTemplate', () => {
    assert.equal(hasTemplate('a {{ .x }}'), true);
    assert.equal(hasTemplate('a { .x }'), false);
  });

  test('references are root field chains with exact positions', () => {
    const src =
      '{{ .steps.build.image_id }} {{ $.Inputs.env | upper }} {{ range .items }}{{ .name }}{{ $.steps.x.y }}{{ end }}' +
      ' {{ $v := .a }}{{ $v.b }} {{ (index .m "k").z }} {{ with .w }}{{ .inner }}{{ else }}{{ .outer }}{{ end }}' +
      ' {{ if .c }}{{ .d }}{{ end }} {{ . }}';
    const { template } = parseTemplate(src);
    assert.ok(template);
    const refs = templateReferences(template);
    assert.deepEqual(
      refs.map((r) => r.path.join('.')),
      ['steps.build.image_id', 'Inputs.env', 'items', 'steps.x.y', 'a', 'm', 'w', 'outer', 'c', 'd'],
    );
    assert.deepEqual(refs[0], { path: ['steps', 'build', 'image_id'], offset: 3, length: 21 });
    assert.deepEqual(refs[1], { path: ['Inputs', 'env'], offset: 31, length: 12 });
    for (const r of refs) {
      const text = src.slice(r.offset, r.offset + r.length);
      assert.equal(text.replace(/^\$/, ''), '.' + r.path.join('.'));
    }
  });

  test('function calls with exact positions', () => {
    const src = '{{ .x | upper }}{{ printf "%s" now | default (lower "A") }}';
    const { template } = parseTemplate(src);
    assert.ok(template);
    assert.deepEqual(templateFunctionCalls(template), [
      { name: 'upper', offset: 8, length: 5 },
      { name: 'printf', offset: 19, length: 6 },
      { name: 'now', offset: 31, length: 3 },
      { name: 'default', offset: 37, length: 7 },
      { name: 'lower', offset: 46, length: 5 },
    ]);
  });
});

describe('parse errors', () => {
  const cases: [source: string, message: string, offset: number, length: number][] = [
    ['{{ uper .x }}', 'unknown function "uper"; did you mean "upper"?', 3, 4],
    ['{{ frobnicate }}', 'unknown function "frobnicate"', 3, 10],
    ['{{ upper "a" "b" }}', 'wrong number of args for upper: want 1 got 2', 3, 5],
    ['{{ "a" | replace "b" }}', 'wrong number of args for replace: want 3 got 2', 9, 7],
    ['{{ eq 1 }}', 'wrong number of args for eq: want at least 2 got 1', 3, 2],
    ['{{ upper lower }}', 'wrong number of args for lower: want 1 got 0', 9, 5],
    ['{{ now 1 }}', 'wrong number of args for now: want 0 got 1', 3, 3],
    ['ab {{ .x', 'unclosed action', 3, 2],
    ['{{ .x {{ .y }}', 'unclosed action', 0, 2],
    ['x {{ end }}', 'unexpected {{end}}', 5, 3],
    ['{{ else }}', 'unexpected {{else}}', 3, 4],
    ['{{ if .a }}x', 'missing {{end}} for {{if}}', 3, 2],
    ['{{ range .a }}{{ with .b }}{{ end }}', 'missing {{end}} for {{range}}', 3, 5],
    ['{{ if .a }}{{ else }}{{ else }}{{ end }}', 'unexpected {{else}} after {{else}}', 24, 4],
    ['{{ if .a }}{{ end .b }}', 'unexpected ".b" in {{end}}', 18, 2],
    ['{{ .x # }}', 'unexpected character "#" in action', 6, 1],
    ['{{ "abc }}', 'unterminated quoted string', 3, 7],
    ['{{ "abc\n" }}', 'unterminated quoted string', 3, 4],
    ['{{ `abc }}', 'unterminated raw quoted string', 3, 7],
    [String.raw`{{ "a\qb" }}`, String.raw`invalid escape sequence "\\q"`, 5, 2],
    [String.raw`{{ "\777" }}`, String.raw`invalid escape sequence "\\777"`, 4, 4],
    ['{{ 12ab }}', 'bad number syntax: "12ab"', 3, 4],
    ['{{ 1 - 2 }}', 'bad number syntax: "-"', 5, 1],
    ['{{/* x }}', 'unclosed comment', 0, 4],
    ['{{/* x */ }}', 'comment ends before closing delimiter', 7, 2],
    ['{{ (upper .x }}', 'unclosed left paren', 3, 1],
    ['{{ .x) }}', 'unexpected ")" in command', 5, 1],
    ['{{ $y }}', 'undefined variable "$y"', 3, 2],
    ['{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}', 'undefined variable "$x"', 35, 2],
    ['{{ $z = 1 }}', 'undefined variable "$z"', 3, 2],
    ['{{ }}', 'missing value for command', 3, 2],
    ['{{ if }}{{ end }}', 'missing value for if', 6, 2],
    ['{{ .x | }}', 'missing value for command', 8, 2],
    ['{{ .x .y }}', "can't give argument to non-function .x", 6, 2],
    ['{{ .x | .y }}', "can't pipe into non-function .y", 8, 2],
    ['{{ nil }}', 'nil is not a command', 3, 3],
    ['{{ template "x" }}', '{{template}} is not supported', 3, 8],
    ['{{ .x | if }}', 'unexpected keyword "if" in command', 8, 2],
    ['{{ .x"y" }}', 'unexpected "\\"y\\"" in operand', 5, 3],
    ['{{ "a".b }}', 'unexpected ".b" after "a"', 6, 2],
    ['{{ : }}', 'expected :=', 3, 1],
    ['{{ $a, $b := .x }}', 'too many declarations in command', 5, 1],
    ['{{ $a := 1 }}{{ $a, 2 }}', 'unexpected "," in operand', 18, 1],
    ['{{ range .a }}{{ else if .b }}{{ end }}', 'unexpected "if" in {{else}}', 22, 2],
  ];
  for (const [source, message, offset, length] of cases) {
    test(`${JSON.stringify(source)} → ${message}`, () => {
      assert.deepEqual(firstError(source), [message, offset, length]);
    });
  }

  test('several errors are reported, sorted, and broken actions do not cascade', () => {
    const { errors } = parseTemplate('{{ lowr .b }} {{ uper .a }} {{ if ( }}a{{ end }} {{ .ok }}');
    assert.deepEqual(
      errors.map((e) => [e.message, e.offset]),
      [
        ['unknown function "lowr"; did you mean "lower"?', 3],
        ['unknown function "uper"; did you mean "upper"?', 17],
        ['missing value for parenthesized pipeline', 36],
      ],
    );
  });

  test('never throws and keeps offsets in range on random input', () => {
    const pieces = [
      '{{',
      '}}',
      '{{- ',
      ' -}}',
      '{{/*',
      '*/}}',
      '*/',
      '.',
      '.a',
      '.b.c',
      '$',
      '$x',
      '$x :=',
      ' := ',
      ' = ',
      '|',
      '(',
      ')',
      '"s"',
      '"',
      '\\',
      '`',
      '`r`',
      '1',
      '-2',
      '3.5',
      '0x',
      'if ',
      'else ',
      'end',
      'range ',
      'with ',
      'upper',
      'default ',
      'printf ',
      'uper',
      'nil',
      'true',
      ' ',
      '\n',
      'text',
      ',',
      'é',
      '😀',
      '}',
      '{',
      'index ',
      '-',
    ];
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let parsed = 0;
    for (let i = 0; i < 4000; i++) {
      const src = Array.from({ length: 1 + random(20) }, () => pieces[random(pieces.length)]).join('');
      const { template, errors } = parseTemplate(src);
      assert.equal(template === null, errors.length > 0, src);
      for (const e of errors) {
        assert.ok(e.offset >= 0 && e.length >= 0 && e.offset + e.length <= src.length, `${JSON.stringify(src)}: ${JSON.stringify(e)}`);
        assert.ok(e.message.length > 0);
      }
      if (!template) continue;
      parsed++;
      try {
        renderTemplate(template, { a: 1, b: { c: [1] } });
      } catch (e) {
        assert.ok(e instanceof TemplateRenderError, `${JSON.stringify(src)}: ${String(e)}`);
      }
    }
    assert.ok(parsed > 100, `only ${parsed} random templates parsed`);
  });
});

test('field names may contain inner hyphens, as step names do', () => {
  assert.equal(renderString('{{ .steps.build-site.tags | join "," }}', { steps: { 'build-site': { tags: ['a', 'b'] } } }), 'a,b');
  const { template, errors } = parseTemplate('{{ .steps.a-b.c }}');
  assert.deepEqual(errors, []);
  assert.deepEqual(
    templateReferences(template!).map((r) => r.path),
    [['steps', 'a-b', 'c']],
  );
  assert.equal(renderString('{{ sub 3 1 }}', {}), '2');
});

test('step and trigger read the top-level data whatever dot is, and are references the build checks', () => {
  assert.equal(renderString('{{ with .list }}{{ step "build" "image_id" }}{{ end }}', data), 'sha:1');
  assert.deepEqual(renderError('{{ step "build" "nope" }}', data, true), ['missing key: step "build" "nope" found nothing', 3, 4]);
  assert.deepEqual(renderError('{{ trigger "nope" }}', data, true)[0], 'missing key: trigger "nope" found nothing');
  const { template } = parseTemplate('{{ step "build-image" "image_id" }} {{ trigger "ref" }} {{ step $.x "y" }}');
  assert.deepEqual(
    templateReferences(template!).map((r) => [r.path, r.offset, r.length]),
    [
      [['steps', 'build-image', 'image_id'], 3, 29],
      [['trigger', 'ref'], 39, 13],
      [['x'], 64, 3],
    ],
  );
  assert.deepEqual(firstError('{{ step }}'), ['wrong number of args for step: want at least 1 got 0', 3, 4]);
});
