import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildWorkflow } from '../../server/engine/build.ts';

function failsWith(input: string | Uint8Array, code: string) {
  const started = performance.now();
  const result = buildWorkflow(input);
  const elapsed = performance.now() - started;
  assert.equal(result.ok, false);
  const d = result.diagnostics.find((x) => x.code === code);
  assert.ok(d, `expected ${code}, got ${JSON.stringify(result.diagnostics)}`);
  // Generous: it only has to show the limit stops the work early, also on a loaded machine.
  assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
  return d;
}

describe('input limits', () => {
  test('over 1 MiB is refused before parsing', () => {
    const big = `name: x\n# ${'a'.repeat(1024 * 1024)}\n`;
    const d = failsWith(big, 'too_large');
    assert.match(d.message, /larger than the 1 MiB limit/);
    failsWith(new TextEncoder().encode(big), 'too_large');
  });

  test('multi-byte text is measured in UTF-8 bytes', () => {
    failsWith(`name: x\n# ${'é'.repeat(600 * 1024)}\n`, 'too_large');
  });

  test('billion laughs: alias expansion is refused', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
      'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
      'j: &j [*i,*i,*i,*i,*i,*i,*i,*i,*i]',
      'k: &k [*j,*j,*j,*j,*j,*j,*j,*j,*j]',
      'l: &l [*k,*k,*k,*k,*k,*k,*k,*k,*k]',
    ].join('\n');
    // 99 aliases pass the count but expand to 9^12 nodes: the expansion itself is stopped.
    const expansion = failsWith(bomb, 'alias_expansion');
    assert.equal(expansion.line, 2);
    const many = failsWith(`a: &a x\nb: [${Array(120).fill('*a').join(', ')}]\n`, 'too_many_aliases');
    assert.match(many.message, /uses 120 aliases; at most 100/);
  });

  test('a few aliases are fine', () => {
    const yaml = `name: x
pipelines:
  p:
    env: &env { A: "1" }
    steps:
      - { name: s, type: step.log, config: { message: hi } }
  q:
    env: *env
    steps:
      - { name: s, type: step.log, config: { message: hi } }
`;
    assert.equal(buildWorkflow(yaml).ok, true);
  });

  test('nesting deeper than 64 levels', () => {
    const d = failsWith(`name: x\ndeep: ${'['.repeat(65)}${']'.repeat(65)}\n`, 'too_deep');
    assert.equal(d.line, 2);
    failsWith(`x: ${'['.repeat(200_000)}`, 'yaml_syntax');
    let block = 'name: x\n';
    for (let i = 0; i < 70; i++) block += `${'  '.repeat(i)}k${i}:\n`;
    failsWith(`${block}${'  '.repeat(70)}v: 1\n`, 'too_deep');
  });

  test('exactly 64 levels are allowed past the limit check', () => {
    const result = buildWorkflow(`name: x\ndeep: ${'['.repeat(62)}${']'.repeat(62)}\n`);
    assert.ok(!result.diagnostics.some((d) => d.code === 'too_deep'));
  });

  test('non-UTF-8 bytes are refused with their position', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('name: x\nde'), 0xff, 0x41]);
    const d = failsWith(bytes, 'invalid_utf8');
    assert.deepEqual([d.line, d.column], [2, 3]);
    assert.match(d.message, /0xff at offset 10/);
    const lone = failsWith('name: x\ndesc: "\ud800"', 'invalid_utf8');
    assert.equal(lone.line, 2);
  });

  test('empty document, comments only, and null', () => {
    failsWith('', 'empty_document');
    failsWith('# just a comment\n', 'empty_document');
    failsWith('~\n', 'empty_document');
  });

  test('several documents', () => {
    const d = failsWith('name: a\n---\nname: b\n', 'multiple_documents');
    assert.equal(d.line, 2);
  });

  test('a scalar or a list is not a workflow', () => {
    failsWith('just text\n', 'not_a_mapping');
    failsWith('- a\n- b\n', 'not_a_mapping');
  });

  test('YAML syntax errors carry a position', () => {
    const d = failsWith('name: x\npipelines: {a: [}\n', 'yaml_syntax');
    assert.equal(d.line, 2);
  });
});
