// Every TypeScript program of README.md and docs/ (a `<!-- typecheck: name -->` ts block, with the
// blocks that continue it) compiles as written under `strict`, as an ES module importing 'dlswap'
// (resolved to this checkout's dist/index.d.ts, 'dlswap/testing' to dist/testing/index.d.ts): what a
// user who pastes it into a strict project gets. All of them are compiled in one program, each as a
// module of its own.
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers';
import { STRICT_CONSUMER, typeProgram } from '../type_check';
import { docPrograms } from './doc_blocks';

const programs = docPrograms().filter((p) => p.kind === 'typecheck');
const ESM_CONSUMER: ts.CompilerOptions = { ...STRICT_CONSUMER, module: ts.ModuleKind.ES2022 };
const fileOf = (name: string) => path.join(root, 'test', 'docs', '.typecheck', `${name}.ts`);

/** The package's declarations, as a consumer's import reaches them. */
const asConsumer = (code: string) =>
  code
    .replace(/from 'dlswap\/testing'/g, `from ${JSON.stringify(path.join(root, 'dist', 'testing', 'index'))}`)
    .replace(/from 'dlswap'/g, `from ${JSON.stringify(path.join(root, 'dist', 'index'))}`);

let errors: Map<string, string> | undefined;
/** The errors of every program, by file, from one compilation. */
function errorsByFile(): Map<string, string> {
  if (errors) return errors;
  // `export {}`: a block without an import is still a module of its own, not a script sharing globals.
  const program = typeProgram(
    [],
    programs.map((p) => ({ file: fileOf(p.name), source: `${asConsumer(p.code)}\nexport {};\n` })),
    ESM_CONSUMER,
  );
  const format = (d: readonly ts.Diagnostic[]) =>
    ts.formatDiagnostics(d, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' });
  errors = new Map(programs.map((p) => [p.name, format(ts.getPreEmitDiagnostics(program, program.getSourceFile(fileOf(p.name))))]));
  const global = format([...program.getGlobalDiagnostics(), ...program.getOptionsDiagnostics()]);
  if (global) errors.set('(global)', global);
  return errors;
}

describe('typed docs blocks', () => {
  it('include the watch examples of docs/watch.md and the API of README.md', () => {
    expect(programs.map((b) => `${b.doc}#${b.name}`)).toEqual(
      expect.arrayContaining(['docs/watch.md#watch-events', 'docs/watch.md#watch-build-step', 'README.md#api-in-brief']),
    );
  });

  it('compile in one program without global errors', () => {
    expect(errorsByFile().get('(global)') ?? '').toBe('');
  }, 120_000);

  it.each(programs.map((p) => [`${p.doc}#${p.name}`, p] as const))(
    '%s compiles under strict',
    (_, p) => {
      expect(errorsByFile().get(p.name)).toBe('');
    },
    120_000,
  );

  it('a mistake in a block is reported against that block only (the control)', () => {
    const file = fileOf('control');
    const program = typeProgram(
      [],
      [
        { file, source: `${asConsumer("import { open } from 'dlswap';\nopen('x').func('int f(int a)')('not a number');")}\nexport {};\n` },
        { file: fileOf('control-ok'), source: `${asConsumer("import { open } from 'dlswap';\nopen('x').func('int f(int a)')(1);")}\nexport {};\n` },
      ],
      ESM_CONSUMER,
    );
    expect(ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => d.code)).toEqual([2345]);
    expect(ts.getPreEmitDiagnostics(program, program.getSourceFile(fileOf('control-ok')))).toEqual([]);
  }, 120_000);
});
