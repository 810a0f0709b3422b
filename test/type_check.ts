/**
 * What the type-level tests share: they compile files the way a strict TypeScript consumer of the
 * package would, and read the errors one way (a `.test-d.ts` file, or source made up by the test).
 */
import path from 'node:path';
import ts from 'typescript';
import { root } from './helpers';

export const STRICT_CONSUMER: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.CommonJS,
  moduleResolution: ts.ModuleResolutionKind.Node10,
  lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
  types: ['node'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  esModuleInterop: true,
};

/** lib/'s own declaration of node-gyp-build: a program that reaches lib/native.ts needs it. */
export const NODE_GYP_BUILD_TYPES = path.join(root, 'lib', 'types', 'node-gyp-build.d.ts');

/** A source file that exists only in memory, at `file`. */
export interface VirtualFile {
  file: string;
  source: string;
}

/** The program of `files` (the virtual files first, if any). */
export function typeProgram(files: string[], virtual?: VirtualFile | VirtualFile[], options: ts.CompilerOptions = STRICT_CONSUMER): ts.Program {
  const host = ts.createCompilerHost(options);
  const virtuals = new Map((virtual === undefined ? [] : Array.isArray(virtual) ? virtual : [virtual]).map((v) => [path.resolve(v.file), v.source]));
  if (virtuals.size) {
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (f, v, ...rest) => {
      const source = virtuals.get(path.resolve(f));
      return source !== undefined ? ts.createSourceFile(f, source, v) : getSourceFile(f, v, ...rest);
    };
    const exists = host.fileExists.bind(host);
    host.fileExists = (f) => virtuals.has(path.resolve(f)) || exists(f);
  }
  return ts.createProgram([...virtuals.keys(), ...files], options, host);
}

/** The errors of compiling `files`, formatted as tsc prints them: '' when there are none. */
export function typeErrors(files: string[], virtual?: VirtualFile): string {
  return ts.formatDiagnostics(ts.getPreEmitDiagnostics(typeProgram(files, virtual)), {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => '\n',
  });
}
