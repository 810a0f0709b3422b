// Every code block of README.md and docs/ is run or compiled by a test, or marked as a fragment
// (the markers: test/docs/doc_blocks.ts), and none mixes module systems: a block or program that
// calls require() has no `import` and no top-level `await` (which only an ES module has).
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { blocksOf, docBlocks, docPrograms, examplesRunHere, ffiExamples, programsOf, type DocBlock } from './doc_blocks';

const where = (b: DocBlock) => `${b.doc}:${b.line}`;

/** What in `code` belongs to CommonJS and what to ES modules. */
function moduleSystems(code: string): { require: boolean; esm: string[] } {
  const file = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  let require = false;
  const esm = new Set<string>();
  const visit = (node: ts.Node, inFunction: boolean): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'require') require = true;
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node) || ts.isExportAssignment(node)) esm.add('import/export');
    if (!inFunction && (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier))) esm.add('top-level await');
    if (!inFunction && ts.isVariableDeclarationList(node) && (node.flags & ts.NodeFlags.AwaitUsing) === ts.NodeFlags.AwaitUsing)
      esm.add('top-level await using');
    const fn = inFunction || ts.isFunctionLike(node) || ts.isClassStaticBlockDeclaration(node);
    ts.forEachChild(node, (c) => visit(c, fn));
  };
  visit(file, false);
  return { require, esm: [...esm] };
}

const mixes = (code: string) => {
  const s = moduleSystems(code);
  return s.require && s.esm.length > 0 ? `require() with ${s.esm.join(', ')}` : null;
};

describe('the code blocks of README.md and docs/', () => {
  const blocks = docBlocks();
  const programs = docPrograms();

  it('are found on every page, README.md and docs/jobs/ included (the control)', () => {
    const pages = new Set(blocks.map((b) => b.doc));
    expect([...pages]).toEqual(expect.arrayContaining(['README.md', 'docs/calls.md', 'docs/jobs/side-by-side.md']));
    expect(blocks.length).toBeGreaterThan(100);
  });

  it('each carry a marker: run, compiled, output, continued or fragment', () => {
    expect(blocks.filter((b) => b.marker === null).map((b) => `${where(b)} (${b.lang || 'no language'}): ${b.code.split('\n')[0]}`)).toEqual([]);
  });

  it('each marker fits its block: examples are js, typecheck blocks ts, outputs text, continuations follow their program', () => {
    const wrong: string[] = [];
    for (const b of blocks) {
      const m = b.marker;
      if (!m || m.kind === 'fragment') continue;
      const program = programs.find((p) => p.doc === b.doc && p.name === m.name && p.blocks[0].line <= b.line);
      if (m.kind === 'example' && b.lang !== 'js') wrong.push(`${where(b)}: an example must be a js block`);
      if (m.kind === 'typecheck' && b.lang !== 'ts') wrong.push(`${where(b)}: a typecheck block must be a ts block`);
      if (m.kind === 'output' && (b.lang !== 'text' || program?.kind !== 'example'))
        wrong.push(`${where(b)}: an output is a text block after the example '${m.name}'`);
      if (m.kind === 'continues' && (!program || b.lang !== program.blocks[0].lang))
        wrong.push(`${where(b)}: continues no ${b.lang} program '${m.name}' above it on this page`);
    }
    expect(wrong).toEqual([]);
  });

  it('name each program once, and give each example its output', () => {
    const names = programs.map((p) => p.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    expect(programs.filter((p) => p.kind === 'example' && p.output === null).map((p) => `${p.doc}: ${p.name}`)).toEqual([]);
    const outputs = blocks.filter((b) => b.marker?.kind === 'output').map((b) => (b.marker as { name: string }).name);
    expect(outputs.filter((n, i) => outputs.indexOf(n) !== i)).toEqual([]);
  });

  it('every example is run by one of the two runners', () => {
    const run = [...examplesRunHere(), ...ffiExamples()].map((p) => p.name).sort();
    expect(run).toEqual(
      programs
        .filter((p) => p.kind === 'example')
        .map((p) => p.name)
        .sort(),
    );
  });

  it('none mixes module systems (require() with import or top-level await)', () => {
    const mixed = [
      ...blocks.filter((b) => /^(js|ts|javascript|typescript|mjs|cjs)$/.test(b.lang)).flatMap((b) => (mixes(b.code) ? [`${where(b)}: ${mixes(b.code)}`] : [])),
      ...programs.flatMap((p) => (mixes(p.code) ? [`${p.doc} program ${p.name}: ${mixes(p.code)}`] : [])),
    ];
    expect(mixed).toEqual([]);
  });

  it('the checks catch what they are for (a page made up here)', () => {
    const page = [
      '```sh',
      'npm test',
      '```',
      '<!-- example: a -->',
      '```js',
      "const { open } = require('dlswap');",
      'await open(1);',
      '```',
      '<!-- continues: a -->',
      '```js',
      'more();',
      '```',
      '<!-- output: a -->',
      '```text',
      '1',
      '```',
      '<!-- fragment -->',
      '  ```ts',
      '  x;',
      '  ```',
    ].join('\n');
    const parsed = blocksOf('page.md', page);
    expect(parsed.map((b) => [b.line, b.lang, b.marker?.kind ?? null])).toEqual([
      [1, 'sh', null],
      [5, 'js', 'example'],
      [10, 'js', 'continues'],
      [14, 'text', 'output'],
      [18, 'ts', 'fragment'],
    ]);
    const [program] = programsOf(parsed);
    expect(program).toMatchObject({ name: 'a', code: "const { open } = require('dlswap');\nawait open(1);\nmore();\n", output: '1' });
    expect(parsed[4].code).toBe('x;\n');
    expect(mixes(program.code)).toBe('require() with top-level await');
    expect(mixes("import { open } from 'dlswap';\nconst x = require('y');")).toBe('require() with import/export');
    expect(mixes("const { open } = require('dlswap');\n(async () => { await open(1); })();")).toBeNull();
    expect(mixes("import { open } from 'dlswap';\nawait open(1);")).toBeNull();
  });
});
