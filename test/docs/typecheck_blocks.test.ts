// Every TypeScript block of README.md and docs/ marked `<!-- typecheck: name -->` compiles as written
// under `strict`, as an ES module importing 'dlswap' (resolved to this checkout's dist/index.d.ts):
// what a user who pastes it into a strict project gets. (Blocks marked `<!-- example: name -->` are
// run by the tests of their page; `<!-- fragment -->` marks a piece of a larger program.)
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers';
import { STRICT_CONSUMER, typeProgram } from '../type_check';

interface Block {
  doc: string;
  name: string;
  code: string;
}

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? markdownFiles(path.join(dir, e.name)) : e.name.endsWith('.md') ? [path.join(dir, e.name)] : []));
}

const blocks: Block[] = [path.join(root, 'README.md'), ...markdownFiles(path.join(root, 'docs'))].flatMap((file) => {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/<!-- typecheck: ([\w-]+) -->\n```ts\n([\s\S]*?)```/g)].map((m) => ({ doc: path.relative(root, file), name: m[1], code: m[2] }));
});

const ESM_CONSUMER: ts.CompilerOptions = { ...STRICT_CONSUMER, module: ts.ModuleKind.ES2022 };

describe('typed docs blocks', () => {
  it('include the watch events example of docs/watch.md', () => {
    expect(blocks.map((b) => `${b.doc}#${b.name}`)).toEqual(expect.arrayContaining(['docs/watch.md#watch-events', 'docs/watch.md#watch-build-step']));
    expect(new Set(blocks.map((b) => b.name)).size).toBe(blocks.length);
  });

  it.each(blocks.map((b) => [`${b.doc}#${b.name}`, b] as const))('%s compiles under strict', (_, b) => {
    const file = path.join(root, 'test', 'docs', `.${b.name}.ts`);
    // The declarations a package consumer gets (tsc writes them before the suite runs).
    const index = path.join(root, 'dist', 'index');
    const source = b.code.replace(/from 'dlswap'/g, `from ${JSON.stringify(index)}`);
    const program = typeProgram([], { file, source }, ESM_CONSUMER);
    const errors = ts.formatDiagnostics(ts.getPreEmitDiagnostics(program), { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' });
    expect(errors).toBe('');
  }, 120_000);
});
